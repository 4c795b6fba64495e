"""PDFs a hostile tenant sends: small files that are cheap to upload and costly to serve.

Used by the tests (tests/test_hostile.py, tests/test_limits.py, tests/test_ocr.py) and the load
benchmark's hostile tenant (eval/bench_load.py --hostile).
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pypdfium2 as pdfium


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF with a correct cross-reference table from numbered object bodies (1-based)."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def one_page_pdf(stream: bytes, resources: bytes = b"", extra: tuple[bytes, ...] = ()) -> bytes:
    """One letter-size page drawing ``stream`` (already Flate-compressed), Helvetica as /F1.

    ``resources`` are added to the page's resource dictionary; ``extra`` objects are numbered from 6.
    """
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >>" + resources + b" >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            *extra,
        ]
    )


def render_bomb(shapes: int = 100_000) -> bytes:
    """One page of text over ``shapes`` semi-transparent rectangles: read in 0.3 s, drawn in ~25 s.

    Text extraction never draws, so the upload passes; only the page image pays. ``shapes`` also makes
    each bomb's bytes (and so its report) distinct.
    """
    ops = [
        b"BT /F1 12 Tf 72 720 Td (We cut greenhouse gas emissions by a third and audited suppliers.) Tj "
        b"0 -16 Td (This page costs minutes to draw, yet its file is small.) Tj ET\n"
    ]
    ops += [b"/G gs %d %d 300 300 re f\n" % (i % 600, (i * 7) % 780) for i in range(shapes)]
    stream = zlib.compress(b"".join(ops), 9)
    return one_page_pdf(stream, b" /ExtGState << /G 6 0 R >>", (b"<< /Type /ExtGState /ca 0.3 /CA 0.3 >>",))


def scanned(source: Path, pages: list[int], dpi: int = 200) -> bytes:
    """Pages of a PDF as pictures only, the way a scanner would deliver them (read by OCR)."""
    pdf = pdfium.PdfDocument(source.read_bytes())
    images = [pdf[n - 1].render(scale=dpi / 72, grayscale=True).to_pil() for n in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return buffer.getvalue()
