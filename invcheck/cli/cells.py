"""The cells the why-commands (explain, prove, sweep) work on: a spec's checks, or one named by flags."""

from __future__ import annotations

from pathlib import Path

from invcheck import names
from invcheck.errors import InvcheckError


def selected_checks(spec: Path | None, norm: str | None, transform: str | None, layer: str) -> list:
    """The checks a why-command works on: every check of a spec, or one check from the flags."""
    from invcheck.settings import check_config

    if spec is not None:
        from invcheck.cli import spec_input

        if norm is not None or transform is not None:  # one of the two would be ignored silently
            raise InvcheckError("name the cells by a spec file or by --norm and --transform, not both")
        checks = spec_input.load([spec])  # `-`: a spec on stdin
        for c in checks:
            if c.norm.module is not None:
                raise InvcheckError(
                    f"{c.location}: this command works on the registry's norms, not user code "
                    f"'{c.norm.module}'"
                )
        return checks
    if norm is None or transform is None:
        raise InvcheckError("name a cell: --norm and --transform (and --layer), or a spec file")
    _known(norm, names.NORMS, "--norm")
    _known(transform, names.TRANSFORMS, "--transform")
    _known(layer, names.LAYERS, "--layer")
    from invcheck.cli.common import check_cells

    checks = [check_config(norm, transform, layer)]
    check_cells(checks)  # a transform the layer has no axis for, before any work
    return checks


def _known(value: str, allowed: tuple[str, ...], flag: str) -> None:
    from invcheck.spec_values import did_you_mean

    if value not in allowed:
        raise InvcheckError(f"{flag} {value!r} is unknown: {did_you_mean(value, allowed)}")
