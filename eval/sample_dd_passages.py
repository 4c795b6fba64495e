"""Draw the report passages we label for due diligence: the dev set (eval/) and the training set (corpora/).

Reports are split, never passages: the dev reports below are never trained on. Most report passages say
nothing about due diligence, so a purely random sample would hold a handful of step-6 passages. Each
report therefore gives half its passages at random and half at random from those that match a broad
due-diligence vocabulary (DD_WORDS); both halves are labelled the same way, every passage, none skipped.

    python eval/sample_dd_passages.py            # writes the two unlabelled files to /tmp/gaplens-dd-sample/

The labels were then written by hand (eval/LABELLING_DD.md). Re-running reproduces the same passages.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from classifiers.training.dd_training import DEV_REPORTS
from service.reading.ingest import document_from_path
from service.reading.segment import passages_from_document
from service.records import Document, Passage
from service.settings import Settings

TRAIN_REPORTS = (
    "boeing-sustainability-2023",
    "bxp-esg-2022",
    "ctreit-esg-2022",
    "deloitte-global-2023",
    "mastercard-esg-2022",
    "mckinsey-esg-2022",
    "meta-sustainability-2023",
    "paypal-global-2023",
    "kion_group_nonfinancial_report_2023",
    "max_automation_nonfinancial_statement_2023",
    "polytec_annual_financial_report_2023",
    "takkt_sustainability_report_2023",
)
DD_WORDS = re.compile(
    r"due diligence|human rights|supplier|supply chain|code of conduct|grievance|whistleblow|remed|"
    r"audit|risk assessment|assess|salient|forced labo|child labo|corrective|stakeholder|complain|"
    r"violation|monitor|policy|living wage|worker|bribery|corruption|speak up|hotline",
    re.IGNORECASE,
)
# The grievance and remedy vocabulary (step 6) and the disclosure vocabulary (step 5): these steps are
# rare in any report, so each dev report adds a few passages drawn from those that match them.
RARE_STEP_WORDS = re.compile(
    r"grievance|whistleblow|remed|hotline|helpline|speak up|complaint|compensat|reimburs|"
    r"publish|disclos|transparen|statement",
    re.IGNORECASE,
)
SEED = 20261125


def load_report(name: str, shared: Path) -> Document:
    pdf = shared / "reports" / "pdf" / f"{name}.pdf"
    return document_from_path(pdf if pdf.exists() else shared / "reports" / "text" / f"{name}.json")


def report_passages(name: str, shared: Path) -> list[Passage]:
    """The 25-90-word passages of one report, as the pipeline segments it."""
    passages = passages_from_document(load_report(name, shared), 90)
    return [p for p in passages if 25 <= len(p.text.split()) <= 90]


def row(name: str, passage: Passage, drawn: str) -> dict:
    return {
        "report": name,
        "page": passage.page,
        "passage_id": passage.id,
        "drawn": drawn,
        "text": passage.text,
    }


def sample_report(name: str, passages: list[Passage], per_half: int, rng: random.Random) -> list[dict]:
    """``per_half`` random passages plus ``per_half`` random vocabulary-matching ones."""
    random_half = rng.sample(passages, min(per_half, len(passages)))
    taken = {p.id for p in random_half}
    matching = [p for p in passages if p.id not in taken and DD_WORDS.search(p.text)]
    matching_half = rng.sample(matching, min(per_half, len(matching)))
    return [row(name, p, "random") for p in random_half] + [row(name, p, "vocabulary") for p in matching_half]


def sample_rare(
    name: str, passages: list[Passage], taken: set[str], count: int, rng: random.Random
) -> list[dict]:
    """``count`` passages not yet drawn that match the step-5/6 vocabulary (drawn after the halves)."""
    rare = [p for p in passages if p.id not in taken and RARE_STEP_WORDS.search(p.text)]
    return [row(name, p, "rare-step") for p in rng.sample(rare, min(count, len(rare)))]


def main() -> None:
    shared = Settings().shared_data_dir
    out = Path("/tmp/gaplens-dd-sample")
    out.mkdir(exist_ok=True)
    for split, reports, per_half, rare in (("dev", DEV_REPORTS, 18, 6), ("train", TRAIN_REPORTS, 13, 4)):
        rng = random.Random(f"{SEED}-{split}")
        rare_rng = random.Random(f"{SEED}-{split}-rare")
        passages = {name: report_passages(name, shared) for name in reports}
        rows = [r for name in reports for r in sample_report(name, passages[name], per_half, rng)]
        taken = {r["passage_id"] for r in rows}
        rows += [r for name in reports for r in sample_rare(name, passages[name], taken, rare, rare_rng)]
        path = out / f"dd_{split}_unlabelled.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{split}: {len(rows)} passages -> {path}")


if __name__ == "__main__":
    main()
