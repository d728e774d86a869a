"""Spec paths as the commands take them: files, folders, and `-` for one spec read from stdin."""

from __future__ import annotations

import sys
from pathlib import Path

from invcheck.errors import SpecError

STDIN = Path("-")
STDIN_NAME = "<stdin>"


def _stdin_text() -> str:
    """A spec on stdin, held to a spec file's rules: at most MAX_SPEC_BYTES (an endless stream is
    cut there, not read to the end), UTF-8 text."""
    from invcheck.spec_yaml import decode, read_limited

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # stdin closed (`<&-`): Python gives None
        raise SpecError("cannot read the spec on stdin: it is closed", STDIN_NAME)
    return decode(read_limited(stream, STDIN_NAME, "the spec on stdin"), STDIN_NAME)


def load(paths: list[Path]) -> list:  # -> list[CheckConfig], in the order the paths are given
    """The checks of every path; `-` is a spec on stdin (read once, wherever it is listed)."""
    from invcheck import spec

    checks: list = []
    for group in _groups(paths):
        checks += spec.load_text(_stdin_text(), STDIN_NAME) if group == [STDIN] else spec.load_specs(group)
    return checks


def load_selected(paths: list[Path]) -> list:  # -> list[CheckConfig]
    """As `load`, where a path may be SPEC::NAME: that spec's one check of that test name."""
    from invcheck import reproduce, spec

    checks: list = []
    plain: list[Path] = []
    # a check selected from a file that also runs whole, or selected twice, runs once
    files = [p for p in paths if p != STDIN and reproduce.split(p)[1] is None]
    chosen = {spec.file_identity(f) for f in spec.discover(files)} if files else set()
    for path in [*paths, None]:
        file, name = reproduce.split(path) if path is not None else (None, None)
        if path is not None and name is None:
            plain.append(path)
            continue
        checks += load(plain) if plain else []
        plain = []
        if file is not None and name is not None:
            whole, selected = spec.file_identity(Path(file)), (spec.file_identity(Path(file)), name)
            if whole not in chosen and selected not in chosen:
                chosen.add(selected)
                checks += reproduce.named(spec.load_file(file), name, str(file))
    return checks


def validate(paths: list[Path]) -> tuple[list[SpecError], int, int]:
    """(errors, checks, files): every error of the files and folders, the first of a spec on stdin."""
    from invcheck import spec

    found: list[SpecError] = []
    checks = files = 0
    for group in _groups(paths):
        if group != [STDIN]:
            group_errors = spec.validate(group)
            found += group_errors
            if not group_errors:
                files += len(spec.discover(group))
                checks += len(spec.load_specs(group))
            continue
        try:
            checks += len(spec.load_text(_stdin_text(), STDIN_NAME))
            files += 1
        except SpecError as err:
            found.append(err)
    return found, checks, files


def _groups(paths: list[Path]) -> list[list[Path]]:
    """Runs of file paths, with each `-` alone: spec order is the order given."""
    if paths.count(STDIN) > 1:
        raise SpecError("'-' (a spec on stdin) is given more than once: stdin can be read once", STDIN_NAME)
    groups: list[list[Path]] = []
    for path in paths:
        if path == STDIN or not groups or groups[-1] == [STDIN]:
            groups.append([path])
        else:
            groups[-1].append(path)
    return groups
