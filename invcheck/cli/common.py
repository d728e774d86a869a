"""What the commands share: output that is written whole or not at all, the import permission."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from invcheck.errors import InvcheckError


def write_output(text: str, path: Optional[Path]) -> None:
    """Print, or write whole-or-nothing: a temporary file renamed into place, never half a file."""
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    if not path.name or path.is_dir():
        raise InvcheckError(f"cannot write {path}: it is a directory")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InvcheckError(f"cannot write {path}: {err.strerror}") from None


def config_allows_import(paths: list[Path]) -> bool:
    """`allow-import = true` in the pyproject.toml of the working directory, or of every spec
    path's project (found walking up from it, as the pytest plugin does)."""
    from invcheck.project_config import allow_import_from_config

    return allow_import_from_config(Path.cwd()) or all(allow_import_from_config(p.resolve()) for p in paths)


