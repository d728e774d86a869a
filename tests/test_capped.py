"""A message's length is capped (errors.capped, applied by UserCodeError and evidence.Result): user
code's own text is unbounded, and `raise ValueError("x" * 10_000_000)` in a layer became a 10 MB
"one-line" why in the JSON report, 10 MB on stderr and a 30 MB JUnit file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invcheck.errors import MAX_CHARS, UserCodeError, capped
from tests.conftest import Invoke

_HUGE = 100_000


def test_a_long_text_keeps_its_head_and_says_how_much_more() -> None:
    text = "y" * (MAX_CHARS + 500)
    assert capped(text) == "y" * MAX_CHARS + "… (500 more characters)"
    assert capped(capped(text)) == capped(text)  # capped once, kept whole
    assert capped("short") == "short"


def test_a_user_code_error_s_message_is_capped() -> None:
    err = UserCodeError("s.yaml:3: module 'm:N': raised ValueError: " + "x" * _HUGE)
    assert len(str(err)) < MAX_CHARS + 40 and len(err.reason) < MAX_CHARS + 40
    assert str(err).endswith(" more characters)")


_MODULE = f"""\
from torch import nn


class Huge(nn.Module):
    def __init__(self, features):
        super().__init__()

    def forward(self, a):
        raise ValueError("x" * {_HUGE})
"""


def test_a_huge_exception_message_is_capped_in_every_report(tmp_path: Path, invoke: Invoke) -> None:
    pytest.importorskip("torch")
    (tmp_path / "huge.py").write_text(_MODULE)
    (tmp_path / "s.yaml").write_text(
        'norm: {module: "huge:Huge", kwargs: {features: "{units}"}}\ntransform: dataset_rescale\ntrials: 2\n'
    )
    result = invoke("run", "s.yaml", "--allow-import", "-f", "json", "--junit-xml", "j.xml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[:3000]
    why = json.loads(result.stdout)["results"][0]["why"]
    assert "raised ValueError: xxx" in why and why.endswith(" more characters)")
    assert len(why) < MAX_CHARS + 40
    assert len(result.stderr) < 3 * MAX_CHARS
    assert (tmp_path / "j.xml").stat().st_size < 4 * MAX_CHARS
