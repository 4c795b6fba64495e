"""Does a Dutch reader search Dutch text as well? Goal and step names as queries over real Dutch passages.

The service searches a Dutch report by the vectors its classifiers read (Settings.search_encoder), so the
Dutch reader (the distilled e5, ``gaplens-e5-l6-int8``) also answers every search in a Dutch report; its
teacher's tuning saw passages (``passage: ``), never queries (``query: ``). This ranks the labelled real
Dutch texts of the train and dev reports (never test) for each goal's and each step's name, in Dutch and
in English, by each encoder, and prints mean average precision and precision at 10 (a text is relevant when
its labeller gave it that goal or step). The distilled e5 learnt its teacher's vectors on the train reports'
passages (unlabelled), so its train rows are not unseen text:

    python eval/search_dutch.py   # the untuned e5, the twelve-layer tuned e5 (where GAPLENS_TUNED_E5_LAYERS
                                  # names its layers) and the distilled one
"""

from __future__ import annotations

import argparse

import numpy as np

from classifiers.labelled import LabelledText, all_labelled
from service.encoding.embed import embed_query, encode
from service.encoding.models import E5_INT8, STUDENT_E5_INT8, TUNED_E5_INT8, encoder_available
from service.frameworks import Framework, load_framework
from service.settings import REPO_ROOT, Settings


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Mean of the precision at each relevant text's rank (1.0: every relevant text ranks first)."""
    order = np.argsort(-scores, kind="stable")
    hits = relevant[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / max(hits.sum(), 1))


def queries(framework: Framework, texts: list[LabelledText]) -> list[tuple[str, str, np.ndarray]]:
    """(language, query, relevance per text) for each label with at least 3 relevant texts."""
    out = []
    for label in framework.labels:
        relevant = np.array([label.id in {str(x) for x in t.labels_of(framework.id) or ()} for t in texts])
        if relevant.sum() < 3:
            continue
        out += [("nl", label.name_nl, relevant), ("en", label.name, relevant)]
    return [(lang, query, relevant) for lang, query, relevant in out if query]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    known = [m for m in (E5_INT8, TUNED_E5_INT8, STUDENT_E5_INT8) if encoder_available(m)]
    parser.add_argument("--encoders", nargs="+", default=known)
    args = parser.parse_args()
    settings = Settings()
    every = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    texts = [t for t in every if t.lang == "nl" and not t.translated and t.split in ("train", "dev")]
    print(f"{len(texts)} real Dutch texts of the train and dev reports")
    print(f"{'encoder':28} {'framework':9} {'query':5} {'n':>3} {'MAP':>6} {'P@10':>6}")
    for model in args.encoders:
        vectors = encode([t.text for t in texts], model)
        for framework_id in ("sdg", "oecd_dd"):
            framework = load_framework(framework_id, settings.corpora_dir)
            labelled = [i for i, t in enumerate(texts) if t.labels_of(framework_id) is not None]
            rows = [texts[i] for i in labelled]
            asked_in = queries(framework, rows)
            for lang in ("nl", "en"):
                asked = [(q, rel) for q_lang, q, rel in asked_in if q_lang == lang]
                ap, p10 = rank_scores(vectors[labelled], asked, model)
                shown = f"{len(ap):3d} {np.mean(ap):6.3f} {np.mean(p10):6.3f}"
                print(f"{model:28} {framework_id:9} {lang:5} {shown}")


def rank_scores(
    vectors: np.ndarray, asked: list[tuple[str, np.ndarray]], model: str
) -> tuple[list[float], list[float]]:
    """Average precision and precision at 10 of each query's ranking of the texts."""
    ap, p10 = [], []
    for query, relevant in asked:
        scores = vectors @ embed_query(query, model)
        ap.append(average_precision(scores, relevant))
        p10.append(float(relevant[np.argsort(-scores, kind="stable")[:10]].mean()))
    return ap, p10


if __name__ == "__main__":
    main()
