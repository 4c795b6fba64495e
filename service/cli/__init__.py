"""The ``gaplens`` command line: analyze a PDF, classify texts, serve the web page and API.

Each command group is its own module: analyze.py (analyze, classify), batch.py (batch, benchmark),
train.py, keys.py and serve.py; common.py holds the Typer app they register on. Importing this package
registers every command.
"""

from __future__ import annotations

from service.cli import analyze, batch, keys, reviews, serve, train
from service.cli.common import app

# The groups are added here, after the plain commands, in the order ``gaplens --help`` lists them.
app.add_typer(train.train_app, name="train")
app.add_typer(reviews.reviews_app, name="reviews")
app.add_typer(keys.keys_app, name="keys")

__all__ = ["analyze", "app", "batch", "keys", "main", "serve", "train"]


def main() -> None:
    """Entry point for ``python -m service.cli``."""
    app()


if __name__ == "__main__":
    main()
