"""Cross-domain check: retrain the English side without one sector's reports and score it on that sector.

    python eval/cross_domain.py --sector finance      # ~20 min on 2 cores (one fine-tune)

The sector's reports (``sectors`` in corpora/report_splits.yaml) are dropped from
training; both the shipped model and the sector-blind one are scored on the sector's dev and test items
(sentences and passages, English, read with their headings as the report pipeline reads them). The drop
from shipped to sector-blind says how much of the score comes from having seen the sector.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from classifiers.labelled import LabelledText, all_labelled, report_sectors
from classifiers.linear import TUNED_DIR, LinearClassifier
from classifiers.training.tuned_training import train_tuned
from eval.eval_v2 import f1, macro_f1, matrix
from service.encoding.embed import encode
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_ENCODER, TUNED_INT8, TUNED_MAX_TOKENS, OnnxEncoder
from service.frameworks import load_framework
from service.settings import REPO_ROOT, Settings


def scores(
    folder: Path, rows: list[LabelledText], settings: Settings, int8: bool = False
) -> tuple[float, float]:
    """(SDG micro-F1, OECD macro-F1) of the tuned release in ``folder`` on ``rows``, read with headings.

    ``int8``: its int8 ONNX copy with the heads calibrated on it. Also the retrain test's measure
    (tests/test_tuned_classifier.py).
    """
    inputs = [model_input(t.text, t.heading) for t in rows]
    if int8:
        tokenizer = folder / TUNED_ENCODER / "tokenizer.json"
        onnx = OnnxEncoder(folder / f"{TUNED_INT8}.onnx", tokenizer, TUNED_MAX_TOKENS, alone=True)
        vectors, name = onnx.encode(inputs, 16), TUNED_INT8
    else:
        vectors, name = encode(inputs, str(folder / TUNED_ENCODER)), TUNED_ENCODER
    out = []
    for framework_id, n in (("sdg", 17), ("oecd_dd", 6)):
        clf = LinearClassifier(load_framework(framework_id, settings.corpora_dir), name, models_dir=folder)
        predicted = matrix(
            [r.labels for r in clf.predict(vectors, [t.id for t in rows], [t.text for t in rows])], n
        )
        truth = matrix([t.labels_of(framework_id) or () for t in rows], n)
        out.append(f1(predicted, truth)[2] if framework_id == "sdg" else macro_f1(predicted, truth)[0])
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sector", default="finance")
    args = parser.parse_args()
    settings = Settings()
    eval_data = REPO_ROOT / "eval" / "data"
    reports = frozenset(report_sectors(settings.corpora_dir)[args.sector])
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, eval_data)
    rows = [
        t
        for t in texts
        if t.report in reports
        and t.source == "v2"
        and t.lang == "en"
        and t.granularity != "page"
        and t.split != "train"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        blind = Path(tmp)
        train_tuned(
            settings.corpora_dir,
            settings.shared_data_dir,
            eval_data,
            blind,
            exclude_reports=reports,
            multilingual=False,
        )
        shipped, sector_blind = scores(TUNED_DIR, rows, settings), scores(blind, rows, settings)
    print(f"sector {args.sector}: {len(rows)} dev/test items of {sorted({t.report for t in rows})}")
    for name, (sdg, dd) in (
        ("shipped (saw the sector's train reports)", shipped),
        ("trained without it", sector_blind),
    ):
        print(f"  {name:42} SDG micro-F1 {sdg:.3f}, OECD macro-F1 {dd:.3f}")


if __name__ == "__main__":
    main()
