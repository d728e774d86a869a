"""The cells the why-commands (explain, prove, sweep) work on: a spec's checks, or one named by flags."""

from __future__ import annotations

from pathlib import Path

from invcheck import names
from invcheck.errors import InvcheckError


def selected_checks(
    spec: Path | None,
    norm: str | None,
    transform: str | None,
    layer: str,
    user_code: bool | None = None,
) -> list:
    """The checks a why-command works on: every check of a spec (SPEC::NAME: its one check of that
    test name), or one check from the flags. `user_code`: None, a command that works on the
    registry's norms and transforms alone (prove); else whether importing user code is allowed."""
    from invcheck.settings import check_config
    from invcheck.user_objects import imports_code

    if spec is not None:
        from invcheck.cli import spec_input

        if norm is not None or transform is not None:  # one of the two would be ignored silently
            raise InvcheckError("name the cells by a spec file or by --norm and --transform, not both")
        checks = spec_input.load_selected([spec])  # `-`: a spec on stdin
        for c in checks:
            if imports_code(c) and user_code is None:
                raise InvcheckError(
                    f"{c.location}: this command works on the registry's norms and transforms, not "
                    f"user code '{imports_code(c)[0]}'"
                )
        if user_code is False:
            from invcheck.runner import refuse_imports

            refuse_imports(checks, False)
        return checks
    if norm is None or transform is None:
        raise InvcheckError("name a cell: --norm and --transform (and --layer), or a spec file")
    known(norm, names.NORMS, "--norm")
    known(transform, names.TRANSFORMS, "--transform")
    known(layer, names.LAYERS, "--layer")
    from invcheck.cli.common import check_cells

    checks = [check_config(norm, transform, layer)]
    check_cells(checks)  # a transform the layer has no axis for, before any work
    return checks


def known(value: str, allowed: tuple[str, ...], flag: str) -> None:
    """A value of a closed option, or one line with the nearest choice (did you mean ...?)."""
    from invcheck.spec_values import did_you_mean

    if value not in allowed:
        raise InvcheckError(f"{flag} {value!r} is not known ({did_you_mean(value, allowed)})")
