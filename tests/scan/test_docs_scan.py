"""docs/scan.md: its Python examples run, and what it pastes from the CLI is what the CLI says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "scan.md"


def test_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("invcheck.scan.engine")
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert printed in text  # the output pasted below the param_groups example


def test_the_ci_example_is_pasted_whole() -> None:
    example = (DOC.parent.parent / "examples" / "scan_ci.yaml").read_text(encoding="utf-8")
    assert example in DOC.read_text(encoding="utf-8")
