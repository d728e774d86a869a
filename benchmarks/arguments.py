"""The command-line options the benchmarks share, declared once (a script run as
`python benchmarks/NAME.py` imports this module from its own folder)."""

from __future__ import annotations

import argparse


def new_parser(doc: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's parser, its --help described by the first line of the script's docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)


def add_seeds(parser: argparse.ArgumentParser, default: int, help: str | None = None) -> None:
    """--seeds N: how many seeds each cell is computed at."""
    parser.add_argument("--seeds", type=int, default=default, help=help)


def add_repeat(parser: argparse.ArgumentParser, default: int) -> None:
    """--repeat N: how many timed runs."""
    parser.add_argument("--repeat", type=int, default=default)
