r"""GapLens's due-diligence indicator decisions scored against expert-labelled modern-slavery statements.

Each statement of the AIMS set (../shared/data/aims_uk_ca, 101 statements whose sentences domain experts
labelled with reporting criteria) is rebuilt as a document and read by the real pipeline, as ``gaplens
analyze`` reads a pre-parsed report: the statement's sentences, in sentence_id order and one per line, make
pages of ``SENTENCES_PER_PAGE`` sentences (a list of sections, the .json input ``document_from_file``
takes), then ``service.pipeline.analyze_documents`` segments, embeds, classifies and scores them with the
shipped settings. Seven rubric indicators and four OECD steps are compared with the expert criterion our
reading of the AIMS README maps to them (eval/data/expert_indicator_criteria.yaml):

- evidence precision: of the (statement, indicator) pairs GapLens does not call not_met, the share whose
  first evidence passage contains a sentence the experts marked with the indicator's criterion (and the
  same for any of its evidence passages);
- recall: of the pairs where the experts marked the criterion at least once, the share GapLens calls met
  or partly; F1 of the two, and statement-level 95% bootstrap intervals for the pooled precision and recall;
- per step, the Spearman correlation across statements of GapLens's step score with the number of
  expert-positive sentences of the step's criterion, beside that of the statement's length with it.

A passage contains a sentence when the longest run of the sentence's word tokens (lowercased ``\w+``)
that appears contiguously in the passage's tokens is at least ``CONTAINED_SHARE`` of the sentence's tokens:
a sentence inside a passage always qualifies, and so does most of a sentence that segmentation cut across
two passages.

The split is corpora/expert_splits.yaml's, read by ``classifiers.labelled.aims_sentences``; ``test`` is
locked (report only, never tune on it). Vectors are kept by embedding key (model and text) under
.cache_readings/expert_vectors, so a re-run after a rubric or classifier change embeds nothing again and
still reads every stage after the encoder afresh.

Other scripts can import it: ``build_documents(split)``, ``run(statements)`` (or their own decisions in the
same ``StatementResult`` shape) and ``score(results, statements)``.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python eval/expert_documents.py
    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python eval/expert_documents.py \
        --split test --json /tmp/expert_documents_test.json
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import spearmanr

from classifiers.labelled import AIMS_STEPS, aims_sentences
from service.encoding.embed import EmbeddingCache
from service.frameworks import load_framework
from service.judging.rubric import step_scores
from service.pipeline import analyze_documents, gap_report
from service.reading.ingest import document_from_file
from service.records import Analysis, Document
from service.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "eval" / "data" / "expert_indicator_criteria.yaml"
VECTORS = ROOT / ".cache_readings" / "expert_vectors"
SPLITS = ("train", "dev", "test")
# About one page of a printed statement; pages bound passages, so a passage never spans two pages.
SENTENCES_PER_PAGE = 8
# The share of a sentence's tokens that must appear contiguously in a passage for it to contain the sentence.
CONTAINED_SHARE = 0.6
BOOTSTRAP_RESAMPLES = 1000
SEED = 0
# aims_sentences gives each sentence the steps of its criteria; the four criteria map one-to-one to steps.
CRITERION_OF_STEP = {step: criterion for criterion, step in AIMS_STEPS.items()}


@dataclass(frozen=True)
class ExpertSentence:
    """One expert-labelled sentence: its place in the statement, its text and the criteria marked on it."""

    number: int
    text: str
    criteria: frozenset[str]


@dataclass(frozen=True)
class Statement:
    """A statement's expert sentences, in order, and the document rebuilt from them."""

    key: str
    sentences: tuple[ExpertSentence, ...]
    document: Document


@dataclass(frozen=True)
class IndicatorCall:
    """One indicator's decision on one statement and its evidence passages' texts, strongest first."""

    decision: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class StatementResult:
    """What a decision function said about one statement: every indicator, and a score per OECD step."""

    key: str
    indicators: dict[str, IndicatorCall]
    step_scores: dict[str, int]
    passages: int = 0


def load_mapping(path: Path = MAPPING) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Indicator -> expert criteria, and OECD step -> expert criterion, from ``MAPPING``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    indicators = {k: tuple(v) for k, v in raw["indicators"].items()}
    return indicators, {str(k): v for k, v in raw["steps"].items()}


def as_line(text: str, continued: bool = False) -> str:
    """A sentence on one line, its full stop back: AIMS stripped the end punctuation of all but 2 sentences.

    Without it, segmentation would read every short capitalised sentence as a heading and drop it from
    the passages (1,627 sentences have 12 words or fewer). A sentence the next one ``continued`` (it starts
    in lower case: a fragment of the PDF's sentence, about 4% of them) gets no full stop, so the two are
    read as one sentence again.
    """
    line = " ".join(text.split())
    return line if continued or re.search(r"[.!?:;]['\"’”)]?$", line) else f"{line}."


def document_of(key: str, sentences: Sequence[ExpertSentence], per_page: int) -> Document:
    """The statement as a pre-parsed report: one sentence a line, ``per_page`` sentences a page."""
    texts = [s.text for s in sentences]
    lines = [
        as_line(t, following.strip()[:1].islower())
        for t, following in zip(texts, [*texts[1:], ""], strict=True)
    ]
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)]
    sections = [{"title": "", "text": "\n".join(page)} for page in pages]
    return document_from_file(json.dumps(sections).encode("utf-8"), f"{key}.json")


def build_documents(
    split: str = "dev", settings: Settings | None = None, per_page: int = SENTENCES_PER_PAGE
) -> list[Statement]:
    """The statements of one split of corpora/expert_splits.yaml, each rebuilt as a document."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    settings = settings or get_settings()
    by_key: dict[str, list[ExpertSentence]] = {}
    for text in aims_sentences(settings.shared_data_dir, settings.corpora_dir):
        if text.split != split:
            continue
        number = int(text.id.rsplit("-", 1)[1])
        criteria = frozenset(CRITERION_OF_STEP[step] for step in text.steps or ())
        by_key.setdefault(text.report.removeprefix("aims:"), []).append(
            ExpertSentence(number, text.text, criteria)
        )
    statements = []
    for key in sorted(by_key):
        sentences = tuple(sorted(by_key[key], key=lambda s: s.number))
        statements.append(Statement(key, sentences, document_of(key, sentences, per_page)))
    return statements


class VectorFiles:
    """Vectors on disk by embedding key (a hash of model and text); implements EmbeddingCache.

    A vector depends only on the model and the text, so no change to segmentation, classifiers or rubric
    can make a kept vector wrong: a changed passage has a new key and is embedded again.
    """

    def __init__(self, folder: Path = VECTORS) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {key: np.load(path) for key in keys if (path := self._path(key)).exists()}

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        for key, vector in vectors.items():
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp.npy")
            np.save(temporary, vector)
            temporary.rename(path)


def result_of(key: str, analysis: Analysis, steps: Sequence[str]) -> StatementResult:
    """The rubric's decisions on one analysed statement, evidence as the passages' full texts."""
    text_of = {p.id: p.text for p in analysis.passages}
    indicators = {
        r.id: IndicatorCall(r.decision, tuple(text_of.get(e.passage_id, e.text) for e in r.evidence))
        for r in analysis.report.indicators
    }
    scores = step_scores(analysis.report.indicators, steps)
    return StatementResult(key, indicators, scores, len(analysis.passages))


def run(
    statements: Sequence[Statement],
    settings: Settings | None = None,
    cache: EmbeddingCache | None = None,
    readers: bool = True,
) -> list[StatementResult]:
    """GapLens's reading of the statements: the pipeline's stages from segmentation to the rubric.

    ``readers=False`` decides the indicators as before the learned readers (steps and cue words, rule
    evidence types) from the same classifier readings.
    """
    settings = settings or get_settings()
    analyses = analyze_documents([s.document for s in statements], settings, cache)
    if not readers:
        analyses = [without_readers(a, settings) for a in analyses]
    steps = load_framework("oecd_dd", settings.corpora_dir).label_ids
    return [result_of(s.key, a, steps) for s, a in zip(statements, analyses, strict=True)]


def without_readers(analysis: Analysis, settings: Settings) -> Analysis:
    """The analysis re-scored with the learned readers' outputs removed from its due-diligence readings."""
    dd = [replace(r, part_scores={}, evidence_type="") for r in analysis.dd]
    report = gap_report(analysis.document, analysis.passages, analysis.sdg, dd, settings)
    return replace(analysis, dd=dd, report=report)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def contains(passage: str, sentence: str, share: float = CONTAINED_SHARE) -> bool:
    """Whether ``passage`` holds ``sentence``: ``share`` of its tokens appear there in one contiguous run."""
    wanted, found = _tokens(sentence), _tokens(passage)
    if not wanted:
        return False
    run_ = SequenceMatcher(None, wanted, found, autojunk=False).find_longest_match(
        0, len(wanted), 0, len(found)
    )
    return run_.size >= share * len(wanted)


@dataclass(frozen=True)
class Pair:
    """One (statement, indicator): what GapLens said and whether the experts back it."""

    key: str
    indicator: str
    said: bool  # met or partly
    first_hit: bool  # the first evidence passage contains an expert-positive sentence
    any_hit: bool  # one of the evidence passages does
    expert: bool  # the experts marked the criterion at least once in the statement


def pairs_of(
    result: StatementResult, statement: Statement, criteria: dict[str, tuple[str, ...]]
) -> list[Pair]:
    """The mapped indicators of one statement, judged against its expert sentences."""
    pairs = []
    for indicator, wanted in criteria.items():
        call = result.indicators[indicator]
        positives = [s.text for s in statement.sentences if s.criteria & set(wanted)]
        hits = [any(contains(passage, s) for s in positives) for passage in call.evidence]
        said = call.decision != "not_met"
        pairs.append(
            Pair(
                statement.key,
                indicator,
                said,
                said and hits[:1] == [True],
                said and any(hits),
                bool(positives),
            )
        )
    return pairs


def _share(hits: int, total: int) -> dict[str, Any]:
    return {"value": hits / total if total else None, "hits": hits, "total": total}


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None
    return 2 * precision * recall / (precision + recall)


def agreement(pairs: Sequence[Pair]) -> dict[str, Any]:
    """Evidence precision (first / any passage), recall and F1 over some pairs."""
    said = [p for p in pairs if p.said]
    expert = [p for p in pairs if p.expert]
    precision = _share(sum(p.first_hit for p in said), len(said))
    recall = _share(sum(p.said for p in expert), len(expert))
    return {
        "precision": precision,
        "precision_any": _share(sum(p.any_hit for p in said), len(said)),
        "recall": recall,
        "f1": _f1(precision["value"], recall["value"]),
    }


def bootstrap(pairs: Sequence[Pair], keys: Sequence[str]) -> dict[str, list[float]]:
    """95% intervals of the pooled precision and recall, resampling whole statements (seeded)."""
    by_key: dict[str, list[Pair]] = {k: [] for k in keys}
    for pair in pairs:
        by_key[pair.key].append(pair)
    rng = np.random.default_rng(SEED)
    draws: dict[str, list[float]] = {"precision": [], "recall": []}
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = [p for k in rng.choice(len(keys), len(keys)) for p in by_key[keys[int(k)]]]
        scores = agreement(sample)
        for name in draws:
            if scores[name]["value"] is not None:
                draws[name].append(scores[name]["value"])
    return {
        name: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else []
        for name, v in draws.items()
    }


def _spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None  # undefined when either side is constant
    return float(spearmanr(x, y).statistic)


def step_agreement(
    results: Sequence[StatementResult], statements: Sequence[Statement], steps: dict[str, str]
) -> dict[str, Any]:
    """Per step: Spearman of GapLens's step score, and of statement length, with the expert volume."""
    out: dict[str, Any] = {}
    for step, criterion in steps.items():
        volume = [sum(criterion in s.criteria for s in st.sentences) for st in statements]
        ours = [r.step_scores[step] for r in results]
        length = [len(st.sentences) for st in statements]
        out[step] = {
            "criterion": criterion,
            "score_rho": _spearman(ours, volume),
            "length_rho": _spearman(length, volume),
        }
    for name in ("score_rho", "length_rho"):
        values = [v[name] for v in out.values() if isinstance(v, dict) and v[name] is not None]
        out[f"mean_{name}"] = sum(values) / len(values) if values else None
    return out


def score(
    results: Sequence[StatementResult], statements: Sequence[Statement], mapping: Path = MAPPING
) -> dict[str, Any]:
    """The whole table: per indicator and pooled agreement, bootstrap intervals, step correlations."""
    criteria, steps = load_mapping(mapping)
    by_key = {s.key: s for s in statements}
    pairs = [p for r in results for p in pairs_of(r, by_key[r.key], criteria)]
    overall = agreement(pairs)
    overall["interval95"] = bootstrap(pairs, [r.key for r in results])
    return {
        "statements": len(results),
        "sentences": sum(len(by_key[r.key].sentences) for r in results),
        "passages": sum(r.passages for r in results),
        "indicators": {
            i: {"criteria": list(c), **agreement([p for p in pairs if p.indicator == i])}
            for i, c in criteria.items()
        },
        "overall": overall,
        "steps": step_agreement(results, [by_key[r.key] for r in results], steps),
    }


def _cell(share: dict[str, Any]) -> str:
    value = share["value"]
    return f"{'-' if value is None else f'{value:.2f}'} ({share['hits']}/{share['total']})"


def _number(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:+.2f}"


def render(table: dict[str, Any]) -> str:
    """The table as plain text."""
    head = ("indicator", "criteria", "precision(first)", "precision(any)", "recall", "F1")
    lines = [
        f"{table['statements']} statements, {table['sentences']} sentences, {table['passages']} passages",
        "{:<24} {:<20} {:<18} {:<18} {:<18} {}".format(*head),
    ]
    for name, row in [*table["indicators"].items(), ("overall", table["overall"])]:
        f1 = "-" if row["f1"] is None else f"{row['f1']:.2f}"
        cells = (_cell(row["precision"]), _cell(row["precision_any"]), _cell(row["recall"]))
        criteria = "+".join(row.get("criteria", []))
        lines.append("{:<24} {:<20} {:<18} {:<18} {:<18} {}".format(name, criteria, *cells, f1))
    interval = table["overall"]["interval95"]
    for name in ("precision", "recall"):
        if interval[name]:
            low, high = interval[name]
            resamples = f"statements resampled {BOOTSTRAP_RESAMPLES}x"
            lines.append(f"overall {name} 95% interval ({resamples}): {low:.2f}-{high:.2f}")
    lines.append(f"{'step':<6} {'criterion':<22} {'rho(step score, volume)':<25} rho(length, volume)")
    steps = table["steps"]
    for step, row in steps.items():
        if isinstance(row, dict):
            rhos = (_number(row["score_rho"]), _number(row["length_rho"]))
            lines.append("{:<6} {:<22} {:<25} {}".format(step, row["criterion"], *rhos))
    lines.append(
        "{:<6} {:<22} {:<25} {}".format(
            "mean", "", _number(steps["mean_score_rho"]), _number(steps["mean_length_rho"])
        )
    )
    return "\n".join(lines)


def main() -> None:
    """Build the split's documents, read them, score them, print the table (and write it as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="dev", help="test is locked: report only")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument("--per-page", type=int, default=SENTENCES_PER_PAGE, help="sentences a page")
    parser.add_argument("--no-cache", action="store_true", help="embed every passage again")
    parser.add_argument(
        "--without-readers", action="store_true", help="indicators by steps and cue words (before issue 25)"
    )
    parser.add_argument(
        "--rubric-from",
        metavar="REV",
        help="first the table with corpora/dd_rubric.yaml as at git revision REV, from the same readings",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    settings = get_settings()
    statements = build_documents(args.split, settings, args.per_page)
    if args.rubric_from:
        from readings import corpora_with_rubric_of  # a sibling script: only when run as one

        with tempfile.TemporaryDirectory() as folder:
            corpora = corpora_with_rubric_of(args.rubric_from, Path(folder))
            old = settings.model_copy(update={"corpora_dir": corpora})
            before = run(statements, old, None if args.no_cache else VectorFiles(), not args.without_readers)
        print(f"== the rubric of {args.rubric_from} ==\n{render(score(before, statements))}\n")
        print("== the rubric as it is ==")
    results = run(statements, settings, None if args.no_cache else VectorFiles(), not args.without_readers)
    table = score(results, statements)
    table["split"], table["sentences_per_page"] = args.split, args.per_page
    table["seconds"] = round(time.perf_counter() - start, 1)
    print(render(table))
    print(f"{table['seconds']} s", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps({**table, "results": [asdict(r) for r in results]}, indent=1), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
