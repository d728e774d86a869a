"""The power of a check, as numbers: the noise floor, and the smallest planted violation called
not_invariant, per dtype. Prints numbers; asserts nothing (one torch thread, as checks run).

    python benchmarks/power.py [--seeds 3]

noise floor: the largest deviation of exactly invariant cells in that dtype (the reference norms,
PyTorch's layers, and the exact planted norms as user code, at the default transforms).
detectable: the smallest leak (of 1e-16 .. 0.7, six steps a decade) whose planted norm is
not_invariant, with its deviation in that dtype, and the ratio to the floor; "(float64 run)" where
only the float64 run of the same layer sees it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # planted.py

from arguments import add_seeds, new_parser

from invcheck.api import check
from invcheck.runner import run_check

DTYPES = ("float64", "float32", "float16", "bfloat16")
LEAKS = [m * 10.0**e for e in range(-16, 0) for m in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)]
PLANTED = (
    ("planted:LeakyLayerNorm", "weight_matrix_recenter"),
    ("planted:GainFirstLayerNorm", "weight_matrix_recenter"),
    ("planted:LeakyBatchNorm", "dataset_recenter"),
)
EXACT_BUILTIN = (
    ("layer_norm", "weight_matrix_recenter"),
    ("batch_norm", "dataset_recenter"),
    ("rms_norm", "dataset_rescale"),
    ("group_norm", "case_rescale"),
)


def floor(dtype: str, seeds: int) -> tuple[float, str]:
    worst = (0.0, "")
    for seed in range(seeds):
        for impl in ("reference", "torch"):
            for norm, transform in EXACT_BUILTIN:
                # torch's layers with eps really 0 (BatchNorm refuses 0: its re-centering leaves eps alone)
                exact = {"torch_eps": False} if impl == "torch" and norm != "batch_norm" else {}
                r = run_check(check(norm, transform, dtype=dtype, seed=seed, impl=impl, **exact))
                worst = max(
                    worst, (r.runs[dtype]["deviation"] if dtype in r.runs else r.deviation, f"{impl} {norm}")
                )
        for module, transform in PLANTED:
            r = run_check(user(module, transform, dtype, seed, 0.0))
            assert r.verdict == "invariant", r.why
            worst = max(
                worst, (r.runs[dtype]["deviation"] if dtype in r.runs else r.deviation, f"user {module}")
            )
    return worst


def user(module: str, transform: str, dtype: str, seed: int, leak: float):
    return check(
        transform=transform, dtype=dtype, seed=seed, module=module, kwargs={"units": "{units}", "leak": leak}
    )


def detectable(module: str, transform: str, dtype: str, seeds: int) -> tuple[float, float, str] | None:
    for leak in LEAKS:
        results = [run_check(user(module, transform, dtype, s, leak)) for s in range(seeds)]
        if all(r.verdict == "not_invariant" for r in results):
            r = results[0]
            own = r.runs.get(dtype, {}).get("deviation", r.deviation)
            return leak, own, " (float64 run)" if r.run == "float64" and dtype != "float64" else ""
    return None


def main() -> None:
    parser = new_parser()
    add_seeds(parser, 3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"one torch thread; seeds 0..{args.seeds - 1}; eps 0; dense layer, default sizes")
    for dtype in DTYPES:
        noise, where = floor(dtype, args.seeds)
        print(f"{dtype:9s} noise floor {noise:.2g} ({where})")
        for module, transform in PLANTED:
            found = detectable(module, transform, dtype, args.seeds)
            if found is None:
                print(f"    {module} x {transform}: no leak up to 0.3 detected")
                continue
            leak, dev, how = found
            print(
                f"    {module:28s} x {transform:22s} detectable leak {leak:.0e}: deviation {dev:.2g} "
                f"= {dev / noise:.2g} x the floor{how}"
            )


if __name__ == "__main__":
    main()
