"""-o that cannot be written at the end (user code made a folder at its path) still leaves the
--junit-xml report written: one unwritable output lost both."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import Invoke

_MODULE = """\
import os
from torch import nn


class Blocks(nn.Module):
    def __init__(self, features):
        super().__init__()

    def forward(self, a):
        os.makedirs("o/out.json", exist_ok=True)
        return a / a.norm(dim=-1, keepdim=True)
"""


def test_junit_is_written_though_the_output_cannot_be(tmp_path: Path, invoke: Invoke) -> None:
    pytest.importorskip("torch")
    (tmp_path / "blocks.py").write_text(_MODULE)
    (tmp_path / "s.yaml").write_text(
        'norm: {module: "blocks:Blocks", kwargs: {features: "{units}"}}\ntransform: dataset_rescale\ntrials: 2\n'
    )
    (tmp_path / "o").mkdir()
    args = ("run", "s.yaml", "--allow-import", "-f", "json", "-o", "o/out.json", "--junit-xml", "o/j.xml")
    result = invoke(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot write o/out.json: it is a directory" in result.stderr
    cases = list(ElementTree.parse(tmp_path / "o" / "j.xml").getroot().iter("testcase"))
    assert len(cases) == 1
