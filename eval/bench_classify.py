"""Throughput of `classify` (embedding + both classifiers), in passages per second.

    python eval/bench_classify.py [--runs 3]

Three inputs: short texts (the corporate-action dev split, median 25 words), English report passages
(segmented H&M report, up to 90 words) and the Dutch dev passages (read by the multilingual encoder).
Model loading is excluded (it happens once per process); the embedding cache is not used, so every
text is encoded. Prints the median of ``--runs`` runs and the ratio to the 100 passages/s target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from classifiers.training.sdg_training import corporate_actions  # noqa: E402
from eval.eval_sdg import read_dev_rows  # noqa: E402
from service.pipeline import classify_texts  # noqa: E402
from service.reading.ingest import document_from_path  # noqa: E402
from service.reading.segment import passages_from_document  # noqa: E402
from service.settings import Settings  # noqa: E402

TARGET = 100.0


def inputs(settings: Settings) -> dict[str, list[str]]:
    short = [e.text for e in corporate_actions(settings.shared_data_dir, "dev")]
    hm_path = settings.shared_data_dir / "reports" / "text" / "hm-sustainability-2022.json"
    hm = document_from_path(hm_path)
    report = [p.text for p in passages_from_document(hm, settings.max_passage_words)][:500]
    dutch = [row["text"] for row in read_dev_rows("sdg_dev_nl.jsonl")]
    return {"short texts (en)": short, "report passages (en)": report, "report passages (nl)": dutch}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    sets = inputs(settings)
    classify_texts([sets[name][0] for name in sets], settings)  # load encoders and classifiers once
    print(f"machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(f"{'input':<24}{'texts':>6}{'words':>7}{'passages/s':>12}{'vs target':>11}")
    for name, texts in sets.items():
        rates = []
        for _ in range(args.runs):
            start = time.perf_counter()
            classify_texts(texts, settings)
            rates.append(len(texts) / (time.perf_counter() - start))
        rate = statistics.median(rates)
        words = statistics.median(len(t.split()) for t in texts)
        print(f"{name:<24}{len(texts):>6}{words:>7.0f}{rate:>12.1f}{rate / TARGET:>10.2f}x")


if __name__ == "__main__":
    main()
