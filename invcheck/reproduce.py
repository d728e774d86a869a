"""Reproducing one check: a run's seed, trials, dtype and device overridden for every check, one
check picked out of a spec as `SPEC::NAME` (its test name, settings.test_names), and the lines that
re-run and explain a failing check alone. No torch here: the CLI and the pytest plugin use it.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from invcheck.errors import InvcheckError, SpecError, one_line
from invcheck.settings import CheckConfig, test_names
from invcheck.spec_values import Bad, did_you_mean

OVERRIDES = ("seed", "trials", "dtype", "device")
EXPLAIN_FLAGS = {"seed": "check-seed"}  # `invcheck explain`'s names for OVERRIDES, where they differ
SEPARATOR = "::"  # SPEC::NAME, as pytest writes a test id


def overridden(
    checks: Sequence[CheckConfig],
    prefix: str = "--",
    *,
    seed: int | None = None,
    trials: int | None = None,
    dtype: str | None = None,
    device: str | None = None,
    flags: dict[str, str] | None = None,
) -> list[CheckConfig]:
    """`checks` with every value given (not None) in place of each check's own, held to the rules a
    spec's value is (`--trials 0` is refused as `trials: 0` is): a SpecError naming the option, or
    the first check the new values make impossible (too many trials for its layer, say). `flags`:
    the option names where they are not the field's (explain's --check-seed)."""
    from invcheck import rules

    values: dict[str, Any] = {"seed": seed, "trials": trials, "dtype": dtype, "device": device}
    given = {key: value for key, value in values.items() if value is not None}
    for key, value in given.items():
        try:
            given[key] = rules.CHECK_FIELDS[key](value, f"{prefix}{(flags or {}).get(key, key)}")
        except Bad as exc:
            raise InvcheckError(f"{exc}" + (f" ({exc.hint})" if exc.hint else "")) from None
    if not given:
        return list(checks)
    out = [dataclasses.replace(c, **given) for c in checks]
    for c in out:
        found = rules.problems(c)
        if found:
            p = found[0]
            where = " ".join(f"{prefix}{(flags or {}).get(key, key)} {value}" for key, value in given.items())
            raise SpecError(f"{p.message} (with {where})", c.file or "<spec>", c.line, p.value, p.hint)
    return out


def split(arg: str | Path) -> tuple[Path, str | None]:
    """`SPEC::NAME` -> (SPEC, NAME); a plain path -> (path, None)."""
    text = str(arg)
    file, sep, name = text.partition(SEPARATOR)
    return (Path(file), name) if sep else (Path(text), None)


def named(checks: Sequence[CheckConfig], name: str, file: str) -> list[CheckConfig]:
    """The check of one spec file whose test name is `name` (as pytest and JUnit name it). A title
    repeated in the file is the check's name from here on (`same@3`): run alone, its re-run line
    named it `same`, which picks the file's first `same`, another check."""
    names = test_names(list(checks))
    picked = [
        c if n == c.title else dataclasses.replace(c, name=n) for c, n in zip(checks, names) if n == name
    ]
    if not picked:
        raise InvcheckError(f"{file}: no check named {name!r} ({did_you_mean(name, names)})")
    return picked


def names_by_check(checks: Sequence[CheckConfig]) -> dict[int, str]:
    """id(check) -> its test name within its spec file."""
    by_file: dict[str | None, list[CheckConfig]] = {}
    for c in checks:
        by_file.setdefault(c.file, []).append(c)
    return {id(c): n for group in by_file.values() for c, n in zip(group, test_names(group))}


def target(check: CheckConfig, name: str) -> str | None:
    """`SPEC::NAME`, quoted for a shell; None for a check that came from no file (stdin, the API)."""
    if not check.file or check.file.startswith("<"):
        return None
    return shell_word(f"{check.file}{SEPARATOR}{name}")


def shell_word(text: str) -> str:
    """`text` quoted for a shell; with control characters (a newline, an escape in a file name), as
    $'...' with each one escaped: the line stays one printable line, and pasted, names the file."""
    if all(c.isprintable() for c in text):
        return shlex.quote(text)
    escaped = "".join(
        c if c.isprintable() and c not in "\\'" else "\\" + c if c in "\\'" else one_line(c) for c in text
    )
    return f"$'{escaped}'"


def rerun_lines(check: CheckConfig, name: str, allow_import: bool = False) -> list[str]:
    """The commands that re-run this check alone, with the values it ran with, and explain it."""
    spec = target(check, name)
    if spec is None:
        return []
    values = " ".join(f"--{key} {getattr(check, key)}" for key in OVERRIDES)
    # explain's --seed draws its counterexample: the check's own seed is its --check-seed
    explained = " ".join(f"--{EXPLAIN_FLAGS.get(key, key)} {getattr(check, key)}" for key in OVERRIDES)
    allow = " --allow-import" if allow_import else ""
    return [  # one_line: what the spec's name holds cannot reach the terminal raw
        one_line(f"re-run:  invcheck run {spec} {values}{allow}"),
        one_line(f"explain: invcheck explain {spec} {explained}{allow}"),
    ]
