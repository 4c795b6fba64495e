"""``gaplens train``: rebuild the shipped classifier files from the data in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import _fail, _store, err
from service.errors import GapLensError
from service.settings import CLASSIFIER_ENCODERS, REPO_ROOT, UNTUNED_MULTILINGUAL, Settings, get_settings

if TYPE_CHECKING:
    from classifiers.labelled import LabelledText
    from classifiers.training.finetune import TuneConfig

train_app = typer.Typer(help="Rebuild the shipped classifier files from the data in the repository.")


EncoderOption = Annotated[
    list[str] | None, typer.Option("--encoder", help="Encoder(s) to train a head for (default: both)")
]
ModelsDirOption = Annotated[Path | None, typer.Option(help="Where to write (default classifiers/models)")]
SeededReleaseOption = Annotated[
    Path | None,
    typer.Option(
        help="Where to write (default classifiers/models/tuned); another folder gets a copy of the "
        "shipped release's heads"
    ),
]
ReviewsOption = Annotated[
    list[Path] | None,
    typer.Option(help="A tenant's review export (GET /v1/reviews/export, JSON lines) to fold in"),
]
TenantReviewsOption = Annotated[
    list[str] | None, typer.Option(help="Fold in this tenant's reviews, read from the store")
]


def _train(framework: str, encoder: list[str] | None, models_dir: Path | None) -> None:
    from classifiers.linear import MODELS_DIR
    from classifiers.training.dd_training import train_dd
    from classifiers.training.sdg_training import train_sdg

    settings = get_settings()
    if not (settings.shared_data_dir / "reports" / "text").is_dir():
        err.print(f"[red]error:[/red] training data not found under {settings.shared_data_dir}")
        raise typer.Exit(code=2)
    trainer = train_sdg if framework == "sdg" else train_dd
    encoders = encoder or [CLASSIFIER_ENCODERS["trained"], UNTUNED_MULTILINGUAL]
    for name in dict.fromkeys(e for e in encoders if e):
        err.print(f"training the {framework} head for {name} ...")
        meta = trainer(name, settings.shared_data_dir, settings.corpora_dir, models_dir or MODELS_DIR)
        err.print(
            f"  {meta['examples']} examples, out-of-fold micro-F1 {meta['out_of_fold_micro_f1']}, "
            f"{meta['train_seconds']} s"
        )


@train_app.command("sdg")
def train_sdg_command(encoder: EncoderOption = None, models_dir: ModelsDirOption = None) -> None:
    """Train the SDG classifier heads (about 1 min for MiniLM, 3 min for e5 on 2 cores)."""
    _train("sdg", encoder, models_dir)


@train_app.command("dd")
def train_dd_command(encoder: EncoderOption = None, models_dir: ModelsDirOption = None) -> None:
    """Train the OECD due-diligence classifier heads (under a minute per encoder on 2 cores)."""
    _train("dd", encoder, models_dir)


@train_app.command("tuned")
def train_tuned_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="Where to write (default classifiers/models/tuned)")
    ] = None,
    multilingual: Annotated[bool, typer.Option(help="Also fit the heads on the distilled e5")] = True,
    reviews: ReviewsOption = None,
    tenant_reviews: TenantReviewsOption = None,
    frozen_layers: Annotated[
        int | None,
        typer.Option(min=0, max=6, help="Lowest encoder layers kept as packaged (default: the shipped 2)"),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Torch threads for fine-tuning (default: the shipped 2)")
    ] = None,
) -> None:
    """Fine-tune the encoder and write the default classifiers (eval/RESULTS.md gives the time on 2 cores)."""
    from classifiers.labelled import reviewed_texts
    from classifiers.linear import TUNED_DIR
    from classifiers.training.tuned_training import train_tuned
    from service.judging.rubric import load_rubric

    settings = _training_settings()
    lines = _review_lines(settings, reviews, tenant_reviews)
    reviewed = reviewed_texts(lines)
    parts = {i.id: i.parts for i in load_rubric(settings.corpora_dir).indicators}
    eval_data = REPO_ROOT / "eval" / "data"
    written = train_tuned(
        settings.corpora_dir,
        settings.shared_data_dir,
        eval_data,
        models_dir or TUNED_DIR,
        config=_tune_config(frozen_layers, threads),
        multilingual=multilingual,
        log=lambda line: err.print(line),
        reviewed=reviewed,
        review_lines=lines,
        indicator_parts=parts,
    )
    for name, meta in written.items():
        err.print(f"  {name}: thresholds {meta.get('thresholds_by_length', meta.get('thresholds'))}")


def _review_lines(settings: Settings, files: list[Path] | None, tenants: list[str] | None) -> list[dict]:
    """The review export lines of the files and of the tenants named (read from the store)."""
    from classifiers.labelled import review_lines
    from service.serving.reviews import tenant_review_lines

    lines = [line for path in files or [] for line in review_lines(path)]
    for name in tenants or []:
        try:
            lines += tenant_review_lines(_store(), settings, name)
        except GapLensError as exc:
            raise _fail(exc) from exc
    return lines


@train_app.command("parts")
def train_parts_command(
    models_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to write (default classifiers/models/tuned); another folder gets a copy of the "
            "shipped release's heads and serves with GAPLENS_TUNED_DIR"
        ),
    ] = None,
    multilingual: Annotated[bool, typer.Option(help="Also fit the reader on the distilled e5")] = True,
    reviews: ReviewsOption = None,
    tenant_reviews: TenantReviewsOption = None,
) -> None:
    """Fit the sub-element readers that decide the rubric's indicators (part of `train tuned`)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.training.part_training import seed_release, train_parts
    from classifiers.training.tuned_training import part_encoders
    from service.frameworks import load_framework
    from service.judging.rubric import load_rubric

    texts = _labelled_texts()
    settings = get_settings()
    lines = _review_lines(settings, reviews, tenant_reviews)
    target = models_dir or TUNED_DIR
    encoder_dir = seed_release(target, TUNED_DIR)
    framework = load_framework("oecd_dd", settings.corpora_dir)
    parts = {i.id: i.parts for i in load_rubric(settings.corpora_dir).indicators}
    written = train_parts(
        texts,
        framework,
        part_encoders(encoder_dir, multilingual),
        target,
        lambda line: err.print(line),
        reviews=lines,
        indicator_parts=parts,
    )
    for name, meta in written.items():
        err.print(f"  {name}: {meta['examples']} examples, {meta.get('thresholds', meta.get('types'))}")


def _tune_config(frozen_layers: int | None, threads: int | None) -> TuneConfig:
    """The shipped fine-tuning settings with the options given on the command line."""
    from dataclasses import replace

    from classifiers.training.finetune import TuneConfig

    shipped = TuneConfig()
    return replace(
        shipped,
        frozen_layers=shipped.frozen_layers if frozen_layers is None else frozen_layers,
        threads=shipped.threads if threads is None else threads,
    )


def _training_settings() -> Settings:
    """The settings, after a clear error when the shared training data is not where they say."""
    settings = get_settings()
    if not (settings.shared_data_dir / "sdg_labelled").is_dir():
        err.print(f"[red]error:[/red] training data not found under {settings.shared_data_dir}")
        raise typer.Exit(code=2)
    return settings


def _labelled_texts() -> list[LabelledText]:
    """Every labelled text (classifiers/labelled.py), for the commands that rebuild one part of a release."""
    from classifiers.labelled import all_labelled

    settings = _training_settings()
    return all_labelled(settings.corpora_dir, settings.shared_data_dir, REPO_ROOT / "eval" / "data")


@train_app.command("multilingual")
def train_multilingual_command(
    models_dir: SeededReleaseOption = None,
) -> None:
    """Fit the heads that read non-English text on the distilled e5 (part of `train tuned` and `train e5`).

    New Dutch labels change only these heads, so they can be refit without fine-tuning the English
    encoder again (1-2 min on 2 cores instead of 20+).
    """
    from classifiers.linear import TUNED_DIR
    from classifiers.training.finetune import TuneConfig
    from classifiers.training.part_training import seed_release
    from classifiers.training.tuned_training import train_multilingual
    from service.frameworks import load_framework

    texts = _labelled_texts()
    target = models_dir or TUNED_DIR
    seed_release(target, TUNED_DIR)
    sdg, dd = (load_framework(f, get_settings().corpora_dir) for f in ("sdg", "oecd_dd"))
    written = train_multilingual(
        texts, sdg, dd, target, frozenset(), TuneConfig().with_heading, lambda line: err.print(line)
    )
    for name, meta in written.items():
        err.print(f"  {name}: thresholds {meta['thresholds_by_length']}")


@train_app.command("e5")
def train_e5_command(
    models_dir: SeededReleaseOption = None,
    readers_only: Annotated[
        bool, typer.Option(help="Keep the distilled layers there; refit only the heads and readers on them")
    ] = False,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil from this tuned e5 layers file (gaplens-e5-layers.safetensors) instead of tuning"
        ),
    ] = None,
) -> None:
    """Tune multilingual-e5-small, distil it to six layers (the Dutch reader), refit its heads (~75 min)."""
    import shutil

    from classifiers.linear import TUNED_DIR
    from classifiers.training.e5_training import train_e5
    from classifiers.training.part_training import seed_release
    from service.encoding.models import e5_layers_path
    from service.frameworks import load_framework
    from service.judging.rubric import load_rubric

    if teacher is not None and not teacher.is_file():
        err.print(f"[red]error:[/red] no teacher layers file at {teacher}")
        raise typer.Exit(code=2)
    texts = _labelled_texts()
    settings = get_settings()
    target = models_dir or TUNED_DIR
    seed_release(target, TUNED_DIR)
    shipped = e5_layers_path()
    student = target / shipped.name
    if readers_only and not student.exists() and shipped.exists():
        shutil.copy2(shipped, student)  # refit another folder's readers on the shipped layers
    sdg, dd = (load_framework(f, settings.corpora_dir) for f in ("sdg", "oecd_dd"))
    parts = {i.id: i.parts for i in load_rubric(settings.corpora_dir).indicators}
    try:
        written = train_e5(
            texts,
            sdg,
            dd,
            target,
            lambda line: err.print(line),
            tune=not readers_only,
            teacher=teacher,
            data_dirs=(settings.corpora_dir, settings.shared_data_dir),
            indicator_parts=parts,
        )
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    for name, meta in written.items():
        shown = meta.get("thresholds_by_length", meta.get("thresholds", meta.get("final_loss")))
        err.print(f"  {name}: {shown or meta.get('epoch_losses')}")


@train_app.command("int8")
def train_int8_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="The tuned release to quantise (default classifiers/models/tuned)")
    ] = None,
) -> None:
    """Export the tuned encoder to int8 ONNX and calibrate its heads on dev (part of `train tuned`)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.training.tuned_training import write_int8_release
    from service.frameworks import load_framework

    texts = _labelled_texts()
    frameworks = [load_framework(f, get_settings().corpora_dir) for f in ("sdg", "oecd_dd")]
    for name, meta in write_int8_release(texts, frameworks, models_dir or TUNED_DIR).items():
        err.print(f"  {name}: thresholds {meta['thresholds_by_length']}")


@train_app.command("gate")
def train_gate_command(
    models_dir: Annotated[
        Path | None, typer.Option(help="Where to write (default classifiers/models/tuned)")
    ] = None,
) -> None:
    """Fit the relevance gate (which passages skip the encoder; part of `train tuned`)."""
    from classifiers.linear import TUNED_DIR
    from classifiers.relevance import train_gate

    err.print(train_gate(_labelled_texts(), models_dir or TUNED_DIR))
