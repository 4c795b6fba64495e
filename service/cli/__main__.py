"""``python -m service.cli``: the same command line as ``gaplens``."""

from service.cli import main

main()
