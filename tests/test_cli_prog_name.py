"""The program is `invcheck` in its usage lines however it is started (`python -m invcheck`, or in a
test run under `python -m pytest`): click would otherwise name it from __main__'s module spec."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import pytest

from invcheck import cli as cli_module


@pytest.mark.parametrize("started_as", ["invcheck", "pytest"])
def test_the_usage_line_says_invcheck_under_python_dash_m(
    started_as: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = importlib.machinery.ModuleSpec(f"{started_as}.__main__", None)
    main.__package__ = started_as
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [f"/somewhere/{started_as}/__main__.py"])
    with pytest.raises(SystemExit) as info:
        cli_module.main()
    out, _ = capsys.readouterr()
    assert info.value.code == 0 and out.startswith("Usage: invcheck [OPTIONS] COMMAND [ARGS]...\n"), out
