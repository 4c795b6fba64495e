"""A hostile tenant cannot take the service down for the others (issue 17, the outside probe's cases).

Render bombs, floods of PDF children, oversized bodies, unfair queues: each case runs against the real
app (TestClient, loopback only) with small limits, so it ends in seconds.
"""

from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.auth import create_api_key
from service.sandbox import CHILDREN
from service.settings import Settings
from service.store import Store
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_for
from tests.test_limits import pdf_file

pytestmark = pytest.mark.slow


def render_bomb(shapes: int = 100_000) -> bytes:
    """One page of text over ``shapes`` semi-transparent rectangles: read in 0.3 s, drawn in ~25 s."""
    ops = [
        b"BT /F1 12 Tf 72 720 Td (We cut greenhouse gas emissions by a third and audited suppliers.) Tj "
        b"0 -16 Td (This page costs minutes to draw, yet its file is small.) Tj ET\n"
    ]
    ops += [b"/G gs %d %d 300 300 re f\n" % (i % 600, (i * 7) % 780) for i in range(shapes)]
    stream = zlib.compress(b"".join(ops), 9)
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> /ExtGState << /G 6 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /ExtGState /ca 0.3 /CA 0.3 >>",
        ]
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_client(tmp_path, tenants: int = 3, **limits) -> tuple[TestClient, list[dict[str, str]], Settings]:
    """An app in key mode with ``tenants`` keys and the given settings (OCR off unless asked)."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=None, auth="keys", **{"ocr": "off", **limits}
    )
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.resolved_database_url())
    store.create_schema()
    keys = [bearer(create_api_key(store, f"tenant-{n}")) for n in range(tenants)]
    return TestClient(create_app(settings)), keys, settings


def upload(client, headers, data: bytes, name: str = "report.pdf", **fields):
    files = {"file": (name, data, "application/pdf")}
    return client.post("/v1/reports", headers=headers, files=files, data=fields)


def uploaded(client, headers, data: bytes) -> int:
    """The report id of ``data`` once its job is done."""
    response = upload(client, headers, data)
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], headers=headers)
    assert job["status"] == "done", job["error"]
    return int(job["report_id"])


# --- 1. page images render in a bounded child, are cached, and renders are bounded in number -------------
def test_a_render_bomb_is_cut_off_in_its_child_while_the_service_answers(tmp_path):
    client, (one, *_), settings = make_client(tmp_path, page_render_seconds=2, max_pdf_children=4)
    with client:
        report = uploaded(client, one, render_bomb())  # text extraction never renders: it passes
        url = f"/v1/reports/{report}/pages/1/image"
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            renders = [pool.submit(client.get, url, headers=one) for _ in range(8)]
            time.sleep(0.5)
            health = client.get("/health")
            assert health.status_code == 200 and time.monotonic() - started < 2.0
            answers = [future.result() for future in renders]
        assert time.monotonic() - started < 12
        kinds = {(a.status_code, a.json()["error"]) for a in answers}
        # the tenant's share of children draws; the rest are told to wait, none runs unbounded
        assert (413, "PdfTooComplex") in kinds and kinds <= {(413, "PdfTooComplex"), (429, "TooManyRequests")}
        refused = next(a for a in answers if a.status_code == 413)
        assert "drawing the page took longer than 2 s" in refused.text
        # the refusal is remembered: the next request does not draw again
        started = time.monotonic()
        assert client.get(url, headers=one).status_code == 413
        assert time.monotonic() - started < 1.0
        assert CHILDREN.held() == 0


def test_page_images_are_rendered_once_then_served_from_the_cache(tmp_path):
    client, (one, two, _), settings = make_client(tmp_path)
    with client:
        report = uploaded(client, one, MAX_AUTOMATION.read_bytes())
        first = client.get(f"/v1/reports/{report}/pages/3/image", headers=one)
        assert first.status_code == 200 and first.content.startswith(b"\x89PNG")
        cached = list((settings.data_dir / "pages").glob("*.png"))
        assert len(cached) == 1
        written = cached[0].stat().st_mtime_ns
        again = client.get(f"/v1/reports/{report}/pages/3/image", headers=one)
        assert again.content == first.content and cached[0].stat().st_mtime_ns == written
        assert client.get(f"/v1/reports/{report}/pages/99/image", headers=one).status_code == 404
        # another tenant with the same bytes gets its own render, not a fast answer from the first one's
        theirs = uploaded(client, two, MAX_AUTOMATION.read_bytes())
        assert client.get(f"/v1/reports/{theirs}/pages/3/image", headers=two).status_code == 200
        assert len(list((settings.data_dir / "pages").glob("*.png"))) == 2


# --- 2. PDF children are bounded in number, with a share per tenant --------------------------------------
def test_pdf_children_are_capped_with_a_fair_share_and_a_clear_answer_when_full(tmp_path):
    client, (one, two, three), _ = make_client(
        tmp_path, page_render_seconds=6, max_pdf_children=2, pdf_child_wait_seconds=1
    )
    with client:
        bomb_one = uploaded(client, one, render_bomb())
        bomb_two = uploaded(client, two, render_bomb(100_001))
        assert CHILDREN.total == 2 and CHILDREN.per_owner == 1
        with ThreadPoolExecutor(2) as pool:
            drawing = pool.submit(client.get, f"/v1/reports/{bomb_one}/pages/1/image", headers=one)
            time.sleep(1.0)
            # tenant one holds its share: its upload is told to come back, at once
            started = time.monotonic()
            mine = upload(client, one, MAX_AUTOMATION.read_bytes())
            assert mine.status_code == 429 and "being read at this moment" in mine.json()["detail"]
            assert time.monotonic() - started < 1.0 and int(mine.headers["retry-after"]) > 0
            # the other slot is tenant two's to use
            also = pool.submit(client.get, f"/v1/reports/{bomb_two}/pages/1/image", headers=two)
            time.sleep(1.0)
            # every child busy: a third tenant waits a second, then gets 503 with Retry-After
            full = upload(client, three, MAX_AUTOMATION.read_bytes())
            assert full.status_code == 503 and full.json()["error"] == "ServiceBusy"
            assert int(full.headers["retry-after"]) > 0
            assert drawing.result().status_code == 413 and also.result().status_code == 413
        assert upload(client, three, MAX_AUTOMATION.read_bytes()).status_code == 202
        assert CHILDREN.held() == 0
