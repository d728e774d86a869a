"""The numbers behind tolerance.SAFETY and MARGIN: deviation / tolerance over the whole table.

For every cell whose float64 verdict is invariant, the largest ratio of any comparison (the checked
dtype's, the float64 run's) must stay well below 1; for every not_invariant cell, the decisive
ratio must stay above MARGIN. Prints numbers only (one torch thread).

    python benchmarks/calibrate.py [--seeds 10] [--eps 0 1e-5] [--impl reference]
"""

from __future__ import annotations

import torch
from arguments import add_seeds, new_parser

from invcheck.names import NORMS, PAPER_TRANSFORMS
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.tolerance import MARGIN, SAFETY


def cells(eps: float, impl: str):
    for layer in ("dense", "conv"):
        for norm in NORMS:
            for transform in PAPER_TRANSFORMS:
                yield CheckConfig(
                    norm=NormConfig(id=norm, eps=eps, impl=impl),
                    layer=LayerConfig(kind=layer),
                    transform=TransformConfig(id=transform),
                )


def main() -> None:
    parser = new_parser()
    add_seeds(parser, 10)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.0, 1e-5])
    parser.add_argument("--impl", default="reference")
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32", "float16", "bfloat16"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"SAFETY {SAFETY:g}, MARGIN {MARGIN:g}; ratio = deviation / tolerance of the worst trial and comparison"
    )
    for eps in args.eps:
        for dtype in args.dtypes:
            inv, non, disagree, unsure = 0.0, float("inf"), 0, 0
            for base in cells(eps, args.impl):
                for seed in range(args.seeds):
                    ref = run_check(base.with_(seed=seed, dtype="float64")).verdict
                    r = run_check(base.with_(seed=seed, dtype=dtype))
                    disagree += r.verdict != ref
                    unsure += r.verdict == "inconclusive"
                    if r.ratio is None:
                        continue
                    if ref == "invariant":
                        inv = max(
                            [inv] + [v["deviation"] / v["tolerance"] for k, v in r.runs.items() if k != "eps"]
                        )
                    elif ref == "not_invariant":
                        non = min(non, r.ratio)
            print(
                f"eps {eps:g} {dtype:9s} invariant cells: max ratio {inv:.3g} | not_invariant cells: min ratio "
                f"{non:.3g} | verdicts differing from float64: {disagree} | inconclusive: {unsure}"
            )


if __name__ == "__main__":
    main()
