"""Project settings from pyproject.toml: `[tool.invcheck] allow-import = true`.

Only the nearest pyproject.toml counts (walking up from the spec or the working directory):
it marks the project's root, so a parent directory's settings never leak into a project.
No torch here: the CLI reads this before deciding to run anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from invcheck.display import short_repr, shown_path
from invcheck.errors import InvcheckError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEY = "allow-import"
MAX_BYTES = 1 << 20  # a pyproject.toml is a few kB


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
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise InvcheckError(f"{shown(path)}: larger than {MAX_BYTES // 1024} KiB, not read")
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvcheckError(f"{shown(path)}: cannot read: {str(exc).splitlines()[0]}") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InvcheckError(
            f"{shown(path)}: not valid TOML: {str(exc).splitlines()[0] if str(exc) else 'too deep'}"
        ) from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise InvcheckError(f"{shown(path)}: [tool] must be a table, got {short_repr(tool)}")
    table = tool.get("invcheck", {})
    if not isinstance(table, dict):
        raise InvcheckError(f"{shown(path)}: [tool.invcheck] must be a table, got {short_repr(table)}")
    return table


def shown(path: Path) -> str:
    """The path relative to the working directory when it lies below it (as the user typed it)."""
    return shown_path(path.resolve())


def allow_import_from_config(start: Path) -> bool:
    """Whether the nearest pyproject.toml says `allow-import = true` under [tool.invcheck]."""
    path = find_pyproject(start)
    if path is None:
        return False
    table = tool_table(path)
    unknown = [key for key in table if key != KEY]
    if unknown:  # a misspelt key would leave the setting off silently
        from invcheck.spec_values import did_you_mean  # on an error only: no difflib at start-up

        hint = did_you_mean(unknown[0], [KEY], f"the only key is '{KEY}'", cutoff=0.5)
        raise InvcheckError(
            f"{shown(path)}: [tool.invcheck] has the unknown key {short_repr(unknown[0])} ({hint})"
        )
    value = table.get(KEY, False)
    if not isinstance(value, bool):
        raise InvcheckError(
            f"{shown(path)}: [tool.invcheck] {KEY} must be true or false, got {short_repr(value)}"
        )
    return value
