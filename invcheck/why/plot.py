"""A sweep as an image (PNG or SVG by the file's suffix), with matplotlib as an optional extra."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from invcheck.errors import InvcheckError
from invcheck.why.sweep import Sweep

INSTALL = 'plotting needs matplotlib: pip install "invcheck[plot]" (or pip install matplotlib)'
FORMATS = (".png", ".svg")
COLORS = {
    "invariant": "#2e7d32",
    "inconclusive": "#f9a825",
    "not_invariant": "#c62828",
    "undefined": "#9e9e9e",
}
FLOOR = 1e-18  # a deviation of exactly 0 is drawn here (log axes)


def pyplot() -> Any:
    """matplotlib's pyplot on a file backend, or a one-line error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise InvcheckError(INSTALL) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def ready(path: Path) -> None:
    """Refuse an unknown image format or a missing matplotlib before any computing."""
    if path.suffix.lower() not in FORMATS:
        raise InvcheckError(f"--plot {path}: write .png or .svg, not '{path.suffix or 'no suffix'}'")
    pyplot()


def image(sweeps: list[Sweep], path: Path, title: str) -> bytes:
    """The sweeps drawn in the format of `path`'s suffix, as bytes: the caller writes them whole
    (a full disk leaves the old file as it was, not half an image)."""
    ready(path)
    plt = pyplot()
    fig, axes = plt.subplots(len(sweeps), 1, figsize=(8, 3.2 * len(sweeps) + 0.8), squeeze=False, sharex=True)
    for ax, sw in zip(axes[:, 0], sweeps):
        _panel(ax, sw)
    axes[-1, 0].set_xlabel("scale factor δ of the transform (log)")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=120, format=path.suffix.lower()[1:])
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _panel(ax: Any, sw: Sweep) -> None:
    pts = sorted(sw.points, key=lambda p: p.scale)
    _shade(ax, pts)
    shown = [(p, max(d, FLOOR)) for p in pts if (d := p.deviation) is not None]  # (point, as drawn)
    ax.plot(
        [p.scale for p, _ in shown],
        [d for _, d in shown],
        "-",
        color="#37474f",
        lw=1,
        label="deviation |y'−y|max / |y|max",
    )
    for verdict, color in COLORS.items():
        sel = [(p, d) for p, d in shown if p.verdict == verdict]
        ax.scatter([p.scale for p, _ in sel], [d for _, d in sel], color=color, s=18, zorder=3)
    tol = [p for p in pts if p.tolerance]
    ax.plot([p.scale for p in tol], [p.tolerance for p in tol], "--", color="black", lw=1, label="tolerance")
    if sw.crossover:
        ax.axvline(
            sw.crossover,
            color=COLORS["not_invariant"],
            lw=1,
            ls=":",
            label=f"eps breaks invariance below δ ≈ {sw.crossover:.3g}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("deviation (log)")
    ax.set_title(f"eps {sw.check.norm.eps:g}, {sw.check.dtype}", fontsize=10)
    ax.legend(loc="best", fontsize=8, handles=ax.get_legend_handles_labels()[0] + _verdict_handles())


def _shade(ax: Any, pts: list[Any]) -> None:
    """Each point's verdict as a band from the midpoints (log) to its neighbours."""
    for i, p in enumerate(pts):
        left = math.sqrt(p.scale * pts[i - 1].scale) if i else p.scale
        right = math.sqrt(p.scale * pts[i + 1].scale) if i + 1 < len(pts) else p.scale
        ax.axvspan(left, right, color=COLORS[p.verdict], alpha=0.15, lw=0)


def _verdict_handles() -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(color=c, alpha=0.3, label=v.replace("_", " ")) for v, c in COLORS.items()]
