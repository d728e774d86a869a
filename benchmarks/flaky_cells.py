"""Flaky cells: how many table cells change verdict with the seed alone.

Every layer kind x placement x impl (reference, torch) x dtype (float32, bfloat16) is computed over
N seeds (`--seeds`, default 20; seeds 1000, 1001, ...), as `invcheck table` computes it; a cell whose
verdict is not the same at every seed is flaky: a CI check on it would fail now and then. Prints
each flaky cell with its verdicts per seed and the count (target 0). Exit 1 if any.

    python benchmarks/flaky_cells.py --seeds 10
    python benchmarks/flaky_cells.py --placement post_activation --layer conv --dtype bfloat16
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

from arguments import add_seeds, new_parser

from invcheck import names, table

IMPLS = ("reference", "torch")
DTYPES = ("float32", "bfloat16")


def verdicts(
    seeds: list[int],
    layers: list[str],
    impls: tuple[str, ...],
    dtypes: tuple[str, ...],
    placements: tuple[str, ...] = names.PLACEMENTS,
) -> dict:
    """{(layer, placement, impl, dtype, norm, transform): [verdict at each seed]}."""
    found: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for impl in impls:
        for dtype in dtypes:
            for seed in seeds:
                report = table.build(
                    layers, seed=seed, dtype=dtype, impl=impl, placements=placements, beside_reference=False
                )
                print(f"  {impl} {dtype} seed {seed}: {len(report.cells)} cells", file=sys.stderr, flush=True)
                for c in report.cells:
                    found[(c.layer, c.placement, impl, dtype, c.norm, c.transform)].append(c.verdict)
            # what this impl and dtype found, as soon as it is known (a full run takes long)
            for cell, v in found.items():
                if cell[2:4] == (impl, dtype) and len(set(v)) > 1:
                    print("  flaky:", " ".join(cell), v, file=sys.stderr, flush=True)
    return found


def main() -> int:
    parser = new_parser(__doc__)
    add_seeds(parser, 20, help="seeds per cell (default 20)")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--layer", action="append", choices=names.LAYERS, help="one layer kind (repeatable)")
    parser.add_argument(
        "--placement", action="append", choices=names.PLACEMENTS, help="one placement (repeatable)"
    )
    parser.add_argument("--impl", action="append", choices=IMPLS, help="one impl (repeatable)")
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="one dtype (repeatable)")
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    layers = args.layer or list(names.LAYERS)
    start = time.perf_counter()
    found = verdicts(
        seeds,
        layers,
        tuple(args.impl or IMPLS),
        tuple(args.dtype or DTYPES),
        tuple(args.placement or names.PLACEMENTS),
    )
    flaky = {cell: v for cell, v in found.items() if len(set(v)) > 1}
    for cell, v in sorted(flaky.items()):
        counts = {verdict: v.count(verdict) for verdict in dict.fromkeys(v)}
        print(" ".join(cell), counts)
    print(
        f"{len(flaky)} flaky cells of {len(found)} over {len(seeds)} seeds "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 1 if flaky else 0


if __name__ == "__main__":
    sys.exit(main())
