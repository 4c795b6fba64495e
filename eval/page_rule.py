"""How a whole page should be decided from its passages: compared on the dev pages only.

    PYTHONPATH=. .venv/bin/python eval/page_rule.py

A page is cut into ~90-word passages as `classify` cuts long texts. Rules compared: the page has a label
when at least k of its passages have it (k = 1 is the shipped rule), or when its best passage passes the
passage threshold by a margin. Printed: micro P/R/F1 and macro-F1 per framework.
"""

from __future__ import annotations

import numpy as np

from classifiers import get_classifier
from classifiers.labelled import all_labelled, select
from eval.eval_v2 import f1, macro_f1, matrix
from service.pipeline import classify_texts
from service.reading.segment import chunks_of_text
from service.settings import REPO_ROOT, Settings


def main() -> None:
    settings = Settings()
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    pages = [t for t in select(texts, "dev", lang="en") if t.granularity == "page" and t.source == "v2"]
    chunks, owner_list = [], []
    for i, page in enumerate(pages):
        for chunk in chunks_of_text(page.text, "en", settings.max_passage_words):
            chunks.append(chunk)
            owner_list.append(i)
    owner = np.array(owner_list)
    sdg, dd = classify_texts(chunks, settings)
    print(f"{len(pages)} dev pages, {len(chunks)} passages")
    for name, readings, n in (("SDG", sdg, 17), ("OECD", dd, 6)):
        labels = matrix([r.labels for r in readings], n)
        probs = np.array([[r.scores[str(j)] for j in range(1, n + 1)] for r in readings])
        truth = matrix([(p.sdgs if name == "SDG" else p.steps) or () for p in pages], n)
        framework = "sdg" if name == "SDG" else "oecd_dd"
        encoder = settings.classifier_encoder(framework, "en")
        classifier = get_classifier(framework, settings.sdg_classifier, settings.corpora_dir, encoder)
        threshold = classifier.thresholds  # type: ignore[attr-defined]
        for rule in ("at least 1", "at least 2", "margin 0.1", "margin 0.2"):
            predicted = np.array(
                [decide(rule, labels[owner == i], probs[owner == i], threshold) for i in range(len(pages))]
            )
            p, r, micro = f1(predicted, truth)
            macro = macro_f1(predicted, truth)[0]
            print(f"{name:4} {rule:12} P {p:.2f} R {r:.2f} F1 {micro:.3f} macro {macro:.3f}")


def decide(rule: str, labels: np.ndarray, probs: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """A page's labels from its passages': at least k of them, or the best one by a margin."""
    kind, value = rule.rsplit(" ", 1)
    if kind == "at least":
        return labels.sum(0) >= int(value)
    return labels.any(0) & (probs.max(0) >= threshold + float(value))


if __name__ == "__main__":
    main()
