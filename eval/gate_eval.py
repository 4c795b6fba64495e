"""What the relevance gate saves (passages and word pieces not encoded) and what it costs (evidence lost).

Run: PYTHONPATH=. .venv/bin/python eval/gate_eval.py [--splits dev test]

- **Cost**, on our labelled English passages read under their heading, as the pipeline reads them: the
  share the gate rules out, how many of the passages that carry a goal or step it rules out, and SDG
  micro-F1 / OECD macro-F1 of the default classifier with the gate (a gated passage gets no label) and
  without it.
- **Saving**, on every shared PDF report: passages and word pieces (capped at 128, as the int8 encoder
  reads them) that skip the encoder.
"""

from __future__ import annotations

import argparse

import numpy as np
from tokenizers import Tokenizer

from classifiers.labelled import all_labelled, select
from eval.eval_v2 import f1, macro_f1, matrix, readings
from service.encoding.embed import MemoryCache
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_MAX_TOKENS, tuned_model_path
from service.pipeline import needs_encoder
from service.reading.ingest import document_from_pdf
from service.reading.segment import passages_from_document
from service.settings import REPO_ROOT, Settings

REPORTS = REPO_ROOT.parent / "shared" / "data" / "reports"


def cost(split: str, settings: Settings, cache: MemoryCache) -> None:
    """The gate's share and the evidence it drops on one split's labelled passages, F1 with and without."""
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    rows = [t for t in select(texts, split, lang="en") if t.granularity == "passage" and t.source == "v2"]
    inputs = [model_input(t.text, t.heading) for t in rows]
    keep = needs_encoder(inputs, [t.text for t in rows], "en", settings)
    sdg, dd = readings(inputs, settings, cache)
    carrying = np.array([bool(t.sdgs or t.steps) for t in rows])
    sdg_rows = [i for i, t in enumerate(rows) if t.sdgs is not None]
    dd_rows = [i for i, t in enumerate(rows) if t.steps is not None]
    truth_sdg = matrix([t.sdgs or () for t in rows], 17)[sdg_rows]
    truth_dd = matrix([t.steps or () for t in rows], 6)[dd_rows]
    gated_sdg, gated_dd = sdg & keep[:, None], dd & keep[:, None]
    print(
        f"{split}: {len(rows)} passages, gated {(~keep).mean():.1%}; of {carrying.sum()} with a goal or step "
        f"{int((~keep & carrying).sum())} gated"
    )
    for name, s, d in (("without gate", sdg, dd), ("with gate", gated_sdg, gated_dd)):
        print(
            f"  {name:13} SDG micro-F1 {f1(s[sdg_rows], truth_sdg)[2]:.3f}  "
            f"OECD macro-F1 {macro_f1(d[dd_rows], truth_dd)[0]:.3f}"
        )


def saving(settings: Settings) -> None:
    """Passages and word pieces each shared PDF report saves."""
    tokenizer = Tokenizer.from_file(str(tuned_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(TUNED_MAX_TOKENS)
    print(f"{'report':45} {'pages':>5} {'passages':>8} {'gated':>6} {'pieces':>7} {'saved':>6}")
    for pdf in sorted((REPORTS / "pdf").glob("*.pdf")) + sorted((REPORTS / "pool").glob("*.pdf")):
        document = document_from_pdf(pdf.read_bytes(), pdf.name)
        passages = passages_from_document(document, settings.max_passage_words)
        inputs = [model_input(p.text, p.heading) for p in passages]
        keep = needs_encoder(inputs, [p.text for p in passages], document.language, settings)
        pieces = np.array([len(e.ids) for e in tokenizer.encode_batch(inputs)])
        print(
            f"{pdf.name[:45]:45} {document.page_count:5d} {len(passages):8d} {(~keep).mean():6.1%} "
            f"{pieces.sum():7d} {pieces[~keep].sum() / max(pieces.sum(), 1):6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument("--no-saving", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    cache = MemoryCache(capacity=100_000)
    for split in args.splits:
        cost(split, settings, cache)
    if not args.no_saving:
        saving(settings)


if __name__ == "__main__":
    main()
