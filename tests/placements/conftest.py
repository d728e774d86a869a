from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke


@pytest.fixture
def cli(invoke: Invoke) -> Callable[..., str]:
    """stdout of a successful invcheck command (in-process: conftest.invoke)."""

    def run(*args: str) -> str:
        proc = invoke(*args)
        assert proc.exit_code == 0, proc.stderr
        return proc.stdout

    return run


@pytest.fixture
def cli_fails(invoke: Invoke) -> Callable[..., str]:
    """stderr of an invcheck command refused as bad input (exit 2)."""

    def run(*args: str) -> str:
        proc = invoke(*args)
        assert proc.exit_code == 2, (proc.exit_code, proc.stdout, proc.stderr)
        return proc.stderr

    return run
