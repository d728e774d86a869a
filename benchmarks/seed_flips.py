"""Seed flips through the public API: random cells, each checked at several seeds; a cell whose verdict
changes with the seed alone is printed and counted (target 0).

A cell is a random norm x transform x layer kind x placement x impl x dtype (float64, float32,
bfloat16) with random edge settings (few cases or tokens, eps 0 or 1e-5, groups, padding, few
trials), drawn from `--draw-seed`; each is checked by `invcheck.api.invariance_error` at seeds
0..N-1. Cells the rules refuse (a recurrent layer after a ReLU, dyt with an eps) are drawn again.

    python benchmarks/seed_flips.py --cells 200 --seeds 4
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from arguments import add_seeds, new_parser

from invcheck import api, names
from invcheck.errors import InvcheckError

EDGES: dict[str, list[dict[str, int]]] = {
    "dense": [{}, {"cases": 2}, {"cases": 3, "units": 4}, {"inputs": 2}],
    "conv": [{}, {"cases": 2}, {"padding": 1}, {"padding": 2, "kernel": 1}, {"out_channels": 4}],
    "conv1d": [{}, {"cases": 2}, {"padding": 1}],
    "sequence": [{}, {"tokens": 2}, {"cases": 2, "tokens": 2, "inputs": 3, "units": 4}],
    "recurrent": [{}, {"cases": 2}, {"steps": 2}],
    "conv3d": [{}, {"cases": 2}],
}


def random_cell(rng: random.Random) -> dict[str, Any]:
    layer = rng.choice(names.LAYERS)
    cell: dict[str, Any] = {
        "norm": rng.choice(names.NORMS),
        "transform": rng.choice(names.TRANSFORMS),
        "layer": layer,
        "placement": rng.choice(names.PLACEMENTS),
        "impl": rng.choice(("reference", "torch")),
        "dtype": rng.choice(("float64", "float32", "bfloat16")),
        "eps": rng.choice((0.0, 1e-5)),
        "trials": rng.choice((2, 8, 16)),
        **rng.choice(EDGES[layer]),
    }
    if cell["norm"] == "group_norm":
        cell["groups"] = rng.choice((1, 2, 4))
    return cell


def accepted(cell: dict[str, Any]) -> bool:
    """Whether the rules take the cell (a recurrent layer has no post_activation, dyt no eps...)."""
    try:
        api.check(**cell)
    except InvcheckError:
        return False
    return True


def verdict(cell: dict[str, Any], seed: int) -> str:
    try:
        return api.invariance_error(**cell, seed=seed).verdict
    except InvcheckError as err:  # refused at run time (a bound): its own outcome, printed as such
        return f"error: {err}"


def main() -> int:
    parser = new_parser(__doc__)
    parser.add_argument("--cells", type=int, default=200)
    add_seeds(parser, 4)
    parser.add_argument("--draw-seed", type=int, default=0)
    args = parser.parse_args()
    rng, start, checked, flips = random.Random(args.draw_seed), time.perf_counter(), 0, []
    while checked < args.cells:
        cell = random_cell(rng)
        if not accepted(cell):
            continue
        found = [verdict(cell, s) for s in range(args.seeds)]
        checked += 1
        if len(set(found)) > 1:
            flips.append(cell)
            print(" ".join(f"{k}={v}" for k, v in cell.items()), found, flush=True)
    print(
        f"{len(flips)} of {checked} cells change verdict over {args.seeds} seeds "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 1 if flips else 0


if __name__ == "__main__":
    sys.exit(main())
