"""(indicator, candidate passage) pairs from the AIMS **train** statements, labelled by the experts' criteria.

The learned indicator check (eval/indicator_check.py) learns whether a candidate passage is evidence for
an indicator. For the seven indicators that match an AIMS criterion (eval/data/expert_indicator_criteria.yaml)
the experts already said so, sentence by sentence: each train statement is rebuilt as a document and read by
the real pipeline (eval/expert_documents.py), and every passage the rubric takes as a candidate for a mapped
indicator becomes a pair, labelled ``evidence`` when it contains a sentence the experts marked with the
indicator's criterion, else ``no``. Only the train split of corpora/expert_splits.yaml is read; dev and the
locked test stay for eval/expert_documents.py. Whether evidence is met or only partly, the experts do not
say, so these pairs teach the evidence head only.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python eval/aims_indicator_pairs.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from expert_documents import VectorFiles, build_documents, contains, load_mapping  # noqa: E402

from service.judging.rubric import candidates, load_rubric  # noqa: E402
from service.judging.scoring import rubric_input  # noqa: E402
from service.pipeline import analyze_documents  # noqa: E402
from service.settings import get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "corpora" / "indicator_labels" / "aims_train_pairs.jsonl"
LABELLED = "2026-12-07, derived from the AIMS experts' sentence criteria by eval/aims_indicator_pairs.py"


def main() -> None:
    settings = get_settings()
    corpora = settings.corpora_dir
    mapping, _steps = load_mapping()
    rubric = load_rubric(corpora)
    statements = build_documents("train", settings)
    analyses = analyze_documents([s.document for s in statements], settings, VectorFiles())
    rows = []
    for statement, analysis in zip(statements, analyses, strict=True):
        passages = analysis.passages
        data = rubric_input(passages, analysis.sdg, analysis.dd, corpora)
        for indicator in rubric.indicators:
            criteria = set(mapping.get(indicator.id, ()))
            if not criteria:
                continue
            positives = [s.text for s in statement.sentences if s.criteria & criteria]
            for reading in candidates(indicator, data):
                passage = data.passages[reading.passage_id]
                hit = any(contains(passage.text, sentence) for sentence in positives)
                rows.append(
                    {
                        "pair": f"aims:{statement.key}:{indicator.id}:{passage.id}",
                        "report": f"aims:{statement.key}",
                        "page": passage.page,
                        "passage_id": passage.id,
                        "indicator": indicator.id,
                        "lang": "en",
                        "heading": passage.heading,
                        "text": passage.text,
                        "label": "evidence" if hit else "no",
                        "note": ", ".join(sorted(criteria)),
                        "labeller": "AIMS experts (derived)",
                        "labelled": LABELLED,
                    }
                )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    evidence = sum(r["label"] == "evidence" for r in rows)
    print(
        f"{len(rows)} pairs ({evidence} evidence) of {len(statements)} statements -> {OUT}", file=sys.stderr
    )


if __name__ == "__main__":
    main()
