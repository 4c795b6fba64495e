"""Search quality with the tuned encoder against the packaged MiniLM it started from.

    python eval/bench_search.py

Search (GET /v1/search) embeds the query and the stored passages with the main encoder, which is now the
tuned one. Queries: each SDG goal's title and each OECD step's name (from corpora/), as a user would type
a topic. Relevant: the locked-test and dev passages labelled with that goal or step (eval/LABELLING_V2.md),
searched among all English dev and test passages. Printed: mean precision at 10 and mean average precision
over the queries, per encoder.
"""

from __future__ import annotations

import numpy as np

from classifiers.labelled import all_labelled
from service.encoding.embed import encode
from service.encoding.inputs import model_input
from service.encoding.models import TUNED_ENCODER
from service.frameworks import load_framework
from service.settings import CLASSIFIER_ENCODERS, REPO_ROOT, Settings


def average_precision(ranked_relevant: np.ndarray) -> float:
    hits = np.cumsum(ranked_relevant)
    precision = hits / np.arange(1, len(ranked_relevant) + 1)
    return float((precision * ranked_relevant).sum() / max(ranked_relevant.sum(), 1))


def main() -> None:
    settings = Settings()
    texts = [
        t
        for t in all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
        if t.source == "v2" and t.lang == "en" and t.split in ("dev", "test") and t.granularity == "passage"
    ]
    queries = []
    for framework_id in ("sdg", "oecd_dd"):
        framework = load_framework(framework_id, settings.corpora_dir)
        for label in framework.labels:
            relevant = np.array(
                [int(label.id) in ((t.sdgs if framework_id == "sdg" else t.steps) or ()) for t in texts]
            )
            if relevant.sum() >= 3:
                queries.append((f"{framework_id} {label.id}", label.name, relevant))
    print(f"{len(queries)} queries over {len(texts)} passages")
    for name in (CLASSIFIER_ENCODERS["trained"], TUNED_ENCODER):
        passages = encode([model_input(t.text, t.heading) for t in texts], name)
        vectors = encode([q[1] for q in queries], name)
        p10, ap = [], []
        for (_, _, relevant), vector in zip(queries, vectors, strict=True):
            order = np.argsort(-(passages @ vector))
            p10.append(float(relevant[order[:10]].mean()))
            ap.append(average_precision(relevant[order].astype(float)))
        print(f"{name:22} precision@10 {np.mean(p10):.3f}   MAP {np.mean(ap):.3f}")


if __name__ == "__main__":
    main()
