"""`[tool.invcheck] allow-import = true` in the nearest pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from invcheck.errors import InvcheckError
from invcheck.project_config import allow_import_from_config, find_pyproject


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("[tool.invcheck]\nallow-import = true\n", True),
        ("[tool.invcheck]\nallow-import = false\n", False),
        ("[tool.invcheck]\n", False),
        ("[project]\nname = 'x'\n", False),
        ("", False),
    ],
)
def test_reads_the_flag(tmp_path: Path, text: str, allowed: bool) -> None:
    write(tmp_path, text)
    assert allow_import_from_config(tmp_path) is allowed


def test_walks_up_from_a_file_or_folder(tmp_path: Path) -> None:
    write(tmp_path, "[tool.invcheck]\nallow-import = true\n")
    spec = tmp_path / "specs" / "deep" / "check.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text("")
    assert allow_import_from_config(spec) is True
    assert allow_import_from_config(spec.parent) is True
    assert find_pyproject(spec) == tmp_path / "pyproject.toml"


def test_nearest_pyproject_wins(tmp_path: Path) -> None:
    """A project's own pyproject.toml marks its root: a parent's permission does not leak in."""
    write(tmp_path, "[tool.invcheck]\nallow-import = true\n")
    write(tmp_path / "inner", "[project]\nname = 'inner'\n")
    assert allow_import_from_config(tmp_path / "inner") is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.invcheck\n", "not valid TOML"),
        ("[tool.invcheck]\nallow-import = 'yes'\n", "must be true or false, got 'yes'"),
        ("[tool.invcheck]\nallow_import = true\n", "did you mean 'allow-import'"),
        (
            "[tool.invcheck]\nallow-import = true\ntimeout = -3\n",
            "unknown key 'timeout' .the only key is 'allow-import'.",
        ),
        ("[tool]\ninvcheck = 3\n", r"\[tool.invcheck\] must be a table"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvcheckError, match=message) as info:
        allow_import_from_config(tmp_path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
