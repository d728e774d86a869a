"""How verdicts and claims read in text: one symbol and one short word each."""

from __future__ import annotations

SYMBOL = {"invariant": "✓", "not_invariant": "✗", "inconclusive": "?", "undefined": "–"}
# --prove: the exact verdict of a cell (why/prove.py), shown beside the numeric one.
PROOF_MARK = {"proved": "∎ proved", "refuted": "⊥ refuted", "numeric only": "≈ numeric only", "undefined": ""}
PROOF_LEGEND = (
    "proof (eps 0, small symbolic shapes): ∎ proved (y' − y simplifies to 0), "
    "⊥ refuted (an exact rational counterexample), ≈ numeric only"
)
TEX = {"invariant": r"\checkmark", "not_invariant": r"$\times$", "inconclusive": "?", "undefined": "--"}


def number(x: float | None) -> str:
    """Deviations and tolerances span 1e-17..1: two significant digits, always."""
    return "-" if x is None else f"{x:.2g}"


def compared(deviation: float | None, tolerance: float | None) -> tuple[str, str]:
    """A deviation and its tolerance, with the digits it takes to tell them apart where two would
    print them alike (dev 0.00015 tol 0.00015: within, or just beyond?), up to six."""
    digits = 2
    while (
        digits < 6
        and deviation is not None
        and tolerance is not None
        and deviation != tolerance
        and f"{deviation:.{digits}g}" == f"{tolerance:.{digits}g}"
    ):
        digits += 1
    shown = lambda x: "-" if x is None else f"{x:.{digits}g}"  # noqa: E731
    return shown(deviation), shown(tolerance)


def meta_line(meta: dict) -> str:
    keys = ("dtype", "device", "trials", "seed", "eps", "impl")
    shown = dict(meta)
    if meta.get("torch_default_eps"):
        shown["eps"] = "torch's defaults"  # eps 0 with impl torch means each layer's own default
    text = ", ".join(f"{k} {shown[k]}" for k in keys if k in shown)
    if meta.get("tf32"):
        text += ", tf32 allowed"
    return f"invcheck {meta.get('invcheck_version')} · torch {meta.get('torch_version')} · {text}"
