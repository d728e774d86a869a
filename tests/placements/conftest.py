from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _invcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invcheck", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture
def cli() -> Callable[..., str]:
    """stdout of a successful invcheck command."""

    def run(*args: str) -> str:
        proc = _invcheck(*args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    return run


@pytest.fixture
def cli_fails() -> Callable[..., str]:
    """stderr of an invcheck command refused as bad input (exit 2)."""

    def run(*args: str) -> str:
        proc = _invcheck(*args)
        assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
        return proc.stderr

    return run
