"""A scan as an image: tensors (rows) × transforms (columns), one colour per verdict.

PNG or SVG by the file's suffix, with matplotlib from the `plot` extra, imported only here and
only when drawing; without it, one line saying how to install it. The legend sits outside the
grid and lists only the verdicts present; a hatched cell holds at the model's own values only.
"""

from __future__ import annotations

import io
from pathlib import Path

from invcheck.scan.report import TRANSFORMS, ScanReport
from invcheck.why.plot import COLORS, FORMATS, pyplot

LABELS = {
    "invariant": "invariant",
    "not_invariant": "not invariant",
    "inconclusive": "inconclusive",
    "undefined": "undefined",
}
ROW_INCHES = 0.22  # a tensor's row: names stay legible up to a few hundred tensors
MAX_INCHES = 200.0  # matplotlib's own limit is 2**16 pixels; past this, rows get thinner


def ready(path: Path) -> None:
    """Refuse an unknown image format or a missing matplotlib before any scanning."""
    from invcheck.errors import InvcheckError

    if path.suffix.lower() not in FORMATS:
        raise InvcheckError(f"--plot {path}: write .png or .svg, not '{path.suffix or 'no suffix'}'")
    pyplot()


def image(report: ScanReport, path: Path) -> bytes:
    """The heatmap in the format of `path`'s suffix, as bytes (the caller writes them whole)."""
    ready(path)
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = list(dict.fromkeys(p.name for p in report.parameters))
    transforms = [t for t in TRANSFORMS if any(p.transform == t for p in report.parameters)]
    present = [v for v in COLORS if any(p.verdict == v for p in report.parameters)]
    index = {v: i for i, v in enumerate(present)}
    grid = [[-1] * len(transforms) for _ in names]  # -1: not scanned (masked, blank)
    hatched = []
    row_of = {n: i for i, n in enumerate(names)}
    for p in report.parameters:
        if p.transform in transforms:
            r, c = row_of[p.name], transforms.index(p.transform)
            grid[r][c] = index[p.verdict]
            if p.at_these_values_only:
                hatched.append((r, c))
    import numpy as np

    data = np.ma.masked_less(np.array(grid, dtype=float).reshape(len(names), len(transforms)), 0)
    height = min(MAX_INCHES, 1.6 + ROW_INCHES * len(names))
    width = 3.0 + 0.07 * max((len(n) for n in names), default=10) + 1.3 * len(transforms)
    fig, ax = plt.subplots(figsize=(width, height))
    try:
        cmap = ListedColormap([COLORS[v] for v in present] or ["#ffffff"])
        ax.imshow(
            data, cmap=cmap, vmin=-0.5, vmax=max(len(present), 1) - 0.5, aspect="auto", interpolation="none"
        )
        for r, c in hatched:
            ax.add_patch(
                plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", edgecolor="white", lw=0)
            )
        ax.set_xticks(
            range(len(transforms)), [t.replace("weight_", "").replace("_", " ") for t in transforms]
        )
        ax.set_yticks(range(len(names)), names, fontsize=7 if len(names) > 40 else 9)
        ax.xaxis.tick_top()
        ax.set_xticks([x + 0.5 for x in range(len(transforms) - 1)], minor=True)
        ax.set_yticks([y + 0.5 for y in range(len(names) - 1)], minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        handles = [Patch(color=COLORS[v], label=LABELS[v]) for v in present]
        if hatched:
            handles.append(
                Patch(facecolor="#777777", hatch="///", edgecolor="white", label="at these values only")
            )
        # outside the axes: the legend never covers a cell
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False
        )
        ax.set_title(f"{report.model} ({report.mode} mode)", pad=28)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=110, format=path.suffix.lower()[1:], bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()
