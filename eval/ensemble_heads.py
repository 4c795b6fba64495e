"""A candidate reader for English: the tuned int8 heads and the distilled e5's heads, probabilities averaged.

Issue 24 part 3 asks whether an ensemble of heads over two encoders reads better than the shipped one.
Nothing here ships: the eval scripts register the ensemble at run time (``register``), so it is read
through the same ``classify_texts`` path as the shipped classifier (language detection, chunking, the merge
of chunk readings). English passages are encoded by both encoders (a concatenated vector, split again by
the heads); other languages keep the e5 heads alone, as the service reads them.

The decision thresholds are chosen as ``gaplens train tuned`` chooses the shipped heads' (``write_heads``):
one per length bucket on the English dev split's sentences and passages read with their headings, with
the short-text floor for SDG, never on a test split. ``calibrate`` writes them to a small JSON file.

    PYTHONPATH=. .venv/bin/python eval/ensemble_heads.py calibrate /work/runs/s2-ensemble/ensemble.json
    PYTHONPATH=. .venv/bin/python eval/ensemble_heads.py bench /work/runs/s2-ensemble/ensemble.json \
        --save /work/runs/s2-ensemble/speed.json

``bench`` times the default analysis of the 93-page Shell report (eval/bench_analyze.py's report) with
the shipped reader and with the ensemble, alternately in one process, no embedding cache, best of
``--runs`` each (the machine is shared: other work only ever adds time). The issue's budget: the ensemble's
analysis at most 1.3x today's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import classifiers
from classifiers.base import Classifier
from classifiers.labelled import length_bucket, select
from classifiers.linear import TUNED_DIR, LinearClassifier, named_labels
from classifiers.training.finetune import bucket_thresholds, known_mask, short_top1_floor
from classifiers.training.tuned_training import MAX_LABELS, inputs, truth_matrix
from service.encoding.embed import MemoryCache, embed_texts
from service.encoding.models import ENCODERS, STUDENT_E5_INT8, TUNED_INT8, Encoder, get_encoder
from service.frameworks import Framework, load_framework
from service.settings import REPO_ROOT, Settings

# The name the two encoders' concatenated vectors go by (its own cache keys).
BOTH = f"{TUNED_INT8}+{STUDENT_E5_INT8}"
MEMBERS = (TUNED_INT8, STUDENT_E5_INT8)
NAME = "ensemble"


class ConcatEncoder:
    """Both encoders' unit vectors side by side: one 'encoder' so the pipeline runs both per passage."""

    def __init__(self, names: Sequence[str]) -> None:
        # The members are loaded on first use: this runs inside get_encoder's lock, which is not reentrant.
        self.names = list(names)
        self.dim = 384 * len(self.names)  # both members are 384-wide (checked on first use)

    def members(self) -> list[Encoder]:
        members = [get_encoder(n) for n in self.names]
        assert sum(m.dim for m in members) == self.dim, "the members' widths changed"
        return members

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return np.hstack([m.encode(texts, batch_size) for m in self.members()])


class AveragedHeads(LinearClassifier):
    """The mean of two heads' probabilities over their own halves of a concatenated vector.

    The decision rule is LinearClassifier's (thresholds per length bucket, at most ``max_labels``, the
    short-text floor, named goals and step cues), with the thresholds chosen on dev for the mean.
    """

    def __init__(self, framework: Framework, rule: dict, corpora_dir: Path, models_dir: Path) -> None:
        named = named_labels(framework.id, corpora_dir)
        super().__init__(framework, TUNED_INT8, models_dir, named)
        self.members = [LinearClassifier(framework, m, models_dir, named) for m in MEMBERS]
        self.rule = rule

    def load(self) -> None:
        if self.meta:
            return
        for member in self.members:
            member.load()
        first = self.members[0]
        n = len(self.framework.labels)
        self.part_vectors, self.part_ids, self.part_rows = first.part_vectors, first.part_ids, first.part_rows
        self.thresholds = np.full(n, self.rule["passage"], np.float32)
        self.short_thresholds = np.full(n, self.rule["short"], np.float32)
        self.top1_floor, self.top1_floor_short = None, self.rule.get("floor_short")
        self.max_labels, self.short_words = MAX_LABELS[self.framework.id], first.short_words
        self.split = first.weights.shape[1]
        self.meta = {"ensemble": list(MEMBERS), **self.rule}

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        self.load()
        halves = (vectors[:, : self.split], vectors[:, self.split :])
        return np.mean([m.probabilities(v) for m, v in zip(self.members, halves, strict=True)], axis=0)

    def best_parts(self, vector: np.ndarray, label: str, limit: int = 2) -> list[str]:
        return super().best_parts(vector[: self.split], label, limit)

    def _with_passage_readers(self, vectors: np.ndarray, results: list) -> list:
        """The sub-element and evidence-type readers read the first member's half, as shipped."""
        return super()._with_passage_readers(vectors[:, : self.split], results)


def register(rules_path: Path, models_dir: Path = TUNED_DIR) -> None:
    """Make ``ensemble`` a classifier and BOTH an encoder name for this process (eval only)."""
    rules = json.loads(rules_path.read_text(encoding="utf-8"))
    ENCODERS[BOTH] = lambda: ConcatEncoder(MEMBERS)

    def build(framework_id: str, corpora_dir: Path, model: str) -> Classifier:
        framework = load_framework(framework_id, corpora_dir)
        if model != BOTH:  # other languages: the e5 heads alone, as shipped
            return LinearClassifier(framework, model, models_dir, named_labels(framework_id, corpora_dir))
        return AveragedHeads(framework, rules[framework_id], corpora_dir, models_dir)

    classifiers.CLASSIFIERS[NAME] = build


def member_probabilities(texts: Sequence[str], framework: Framework, cache: MemoryCache) -> list[np.ndarray]:
    """Each member head's probabilities of texts (the heads as shipped, no thresholds)."""
    out = []
    for model in MEMBERS:
        head = LinearClassifier(framework, model, TUNED_DIR)
        out.append(head.probabilities(embed_texts(texts, model, cache, 16)))
    return out


def calibrate(settings: Settings) -> dict:
    """Thresholds of the averaged heads per framework and length bucket, chosen on the English dev split."""
    from classifiers.labelled import all_labelled

    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    dev = [t for t in select(texts, "dev", lang="en") if t.granularity != "page"]
    cache = MemoryCache(capacity=100_000)
    rules: dict = {}
    for framework_id in ("sdg", "oecd_dd"):
        framework = load_framework(framework_id, settings.corpora_dir)
        rows = [t for t in dev if t.labels_of(framework_id) is not None]
        members = member_probabilities(inputs(rows, True), framework, cache)
        probs = np.mean(members, axis=0)
        known = known_mask(rows, framework_id, len(framework.labels))
        truth = truth_matrix(rows, framework)
        chosen: dict = bucket_thresholds(probs, truth, [t.text for t in rows], known)
        if framework_id == "sdg":
            short = np.array([length_bucket(t.text) == "short" for t in rows])
            chosen["floor_short"] = short_top1_floor(
                probs[short], truth[short], chosen["short"], MAX_LABELS["sdg"], known[short]
            )
        rules[framework_id] = {**chosen, "calibrated_on": f"English dev split, {len(rows)} texts"}
    return rules


def bench(rules_path: Path, runs: int) -> dict:
    """Seconds of the Shell report's default analysis, shipped reader vs ensemble; their ratio."""
    from bench_analyze import SHELL, cpu_model

    from service.pipeline import analyze_pdf

    register(rules_path)
    shipped = Settings()
    both = shipped.model_copy(update={"embedding_model": BOTH, "sdg_classifier": NAME, "dd_classifier": NAME})
    data = SHELL.read_bytes()
    for settings in (shipped, both):  # loads every model once, outside the timings
        analyze_pdf(data, SHELL.name, settings, cache=None)
    times: dict[str, list[dict[str, float]]] = {"shipped": [], "ensemble": []}
    for _ in range(runs):
        for name, settings in (("shipped", shipped), ("ensemble", both)):
            analysis = analyze_pdf(data, SHELL.name, settings, cache=None)
            times[name].append(analysis.timings)
            t = analysis.timings
            print(f"{name:9} total {t['total']:.2f} s, embedding {t['embedding']:.2f} s", flush=True)
    best = {name: min(t["total"] for t in runs_of) for name, runs_of in times.items()}
    embedding = {name: min(t["embedding"] for t in runs_of) for name, runs_of in times.items()}
    result = {
        "report": SHELL.name,
        "pages": analysis.document.page_count,
        "passages": len(analysis.passages),
        "cpu": cpu_model(),
        "runs": runs,
        "best_total_s": best,
        "best_embedding_s": embedding,
        "ratio_total": round(best["ensemble"] / best["shipped"], 3),
        "ratio_embedding": round(embedding["ensemble"] / embedding["shipped"], 3),
        "budget": 1.3,
    }
    print(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["calibrate", "bench"])
    parser.add_argument("rules", type=Path, help="the thresholds (JSON): calibrate writes, bench reads them")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--save", type=Path, help="bench: also write the times to this JSON file")
    args = parser.parse_args()
    if args.command == "bench":
        result = bench(args.rules, args.runs)
        if args.save:
            args.save.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return
    rules = calibrate(Settings())
    args.rules.parent.mkdir(parents=True, exist_ok=True)
    args.rules.write_text(json.dumps({"members": list(MEMBERS), **rules}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(rules, indent=2))


if __name__ == "__main__":
    main()
