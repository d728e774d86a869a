"""Project settings from pyproject.toml: `[tool.invcheck] allow-import = true`.

Only the nearest pyproject.toml counts (walking up from the spec or the working directory):
it marks the project's root, so a parent directory's settings never leak into a project.
No torch here: the CLI reads this before deciding to run anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from invcheck.errors import InvcheckError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEY = "allow-import"


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in start (a directory, or a file's directory) or above it."""
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def tool_table(path: Path) -> dict[str, Any]:
    """The [tool.invcheck] table of a pyproject.toml ({} when absent)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvcheckError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvcheckError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("invcheck", {})
    if not isinstance(table, dict):
        raise InvcheckError(f"{path}: [tool.invcheck] must be a table, got {table!r}")
    return table


def allow_import_from_config(start: Path) -> bool:
    """Whether the nearest pyproject.toml says `allow-import = true` under [tool.invcheck]."""
    path = find_pyproject(start)
    if path is None:
        return False
    table = tool_table(path)
    if KEY not in table and "allow_import" in table:
        raise InvcheckError(f"{path}: [tool.invcheck] has 'allow_import' (did you mean '{KEY}'?)")
    value = table.get(KEY, False)
    if not isinstance(value, bool):
        raise InvcheckError(f"{path}: [tool.invcheck] {KEY} must be true or false, got {value!r}")
    return value
