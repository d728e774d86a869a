"""1,000 trials batched through `run_check` against a user's naive loop, side by side.

The naive loop is what one writes without invcheck: one trial per call, draw X and W, re-scale the
data, run LayerNorm on both sides, `torch.testing.assert_close`. invcheck's side does more per
trial (a float64 run with eps and without, measured rounding noise, the worst position) and still
runs all trials in one batched pass; each repeat draws afresh (a new seed), as the loop does.
Same layer (dense, 16 cases x 32 inputs x 16 units, LayerNorm with eps 0: the loop cannot pass with
eps 1e-5, whose effect on a re-scaled input exceeds assert_close's float64 tolerance), same dtype, one
thread; a second invcheck row checks eps 1e-5, which adds a run with eps off to measure its effect.

    python benchmarks/bench_batched.py [--trials 1000] [--repeat 5] [--dtype float64]

Target (issue 10): batched at least 20x faster than the naive loop.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from arguments import add_repeat, new_parser

from invcheck.runner import run_check
from invcheck.settings import CheckConfig, NormConfig, TransformConfig

torch.set_num_threads(1)


def naive_trial(seed: int, dtype: torch.dtype, cases: int = 16, inputs: int = 32, units: int = 16) -> None:
    """One trial as a user's test would write it: its own draws, module, and assert_close."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(cases, inputs, generator=gen, dtype=dtype)
    w = torch.randn(units, inputs, generator=gen, dtype=dtype)
    scale = float(torch.empty((), dtype=torch.float64).uniform_(0.1, 10.0, generator=gen))
    norm = torch.nn.LayerNorm(units, eps=0.0, elementwise_affine=False, dtype=dtype)  # the paper's math
    torch.testing.assert_close(norm((scale * x) @ w.T), norm(x @ w.T))


def naive(trials: int, dtype: torch.dtype) -> float:
    start = time.perf_counter()
    for seed in range(trials):
        naive_trial(seed, dtype)
    return time.perf_counter() - start


def bare_batched(
    trials: int,
    dtype: torch.dtype,
    seed: int,
    cases: int = 16,
    inputs: int = 32,
    units: int = 16,
    sampler: torch.dtype | None = None,
) -> float:
    """The loop's own math in one batch, and nothing else (no noise, no float64 run, no verdict): what
    batching alone gains over the loop, before any evidence. Drawn as the loop draws (in `dtype`), or
    with `sampler`'s normal sampler and then converted, as invcheck draws (torch's float32 sampler is
    5x faster than its float64 one)."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(trials, cases, inputs, generator=gen, dtype=sampler or dtype).to(dtype)
    w = torch.randn(trials, units, inputs, generator=gen, dtype=sampler or dtype).to(dtype)
    scale = torch.empty(trials, 1, 1, dtype=torch.float64).uniform_(0.1, 10.0, generator=gen).to(dtype)
    norm = lambda a: torch.nn.functional.layer_norm(a, (units,), eps=0.0)  # noqa: E731
    y, y2 = norm(x @ w.transpose(1, 2)), norm((scale * x) @ w.transpose(1, 2))
    tol = 1e-7 if dtype == torch.float64 else 1.3e-6  # assert_close's defaults, per trial
    bool(((y2 - y).abs().amax((1, 2)) <= tol + tol * y.abs().amax((1, 2))).all())
    return time.perf_counter() - start


def batched(trials: int, dtype: str, seed: int, eps: float = 0.0) -> float:
    # a fresh seed each time: a repeated check would find its draw (and summed inputs) cached
    check = CheckConfig(
        norm=NormConfig(id="layer_norm", eps=eps),
        transform=TransformConfig(id="dataset_rescale"),
        trials=trials,
        dtype=dtype,
        seed=seed,
    )
    start = time.perf_counter()
    result = run_check(check)
    seconds = time.perf_counter() - start
    assert result.verdict == "invariant", result.why
    return seconds


def main() -> None:
    parser = new_parser(__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    add_repeat(parser, 5)
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = parser.parse_args()
    naive(20, getattr(torch, args.dtype)), batched(20, args.dtype, seed=10**6)  # warm up both paths
    bare_batched(20, getattr(torch, args.dtype), seed=10**6)
    times: tuple[list[float], ...] = ([], [], [], [], [])
    for repeat in range(args.repeat):  # interleaved: a busy machine slows both alike
        times[0].append(naive(args.trials, getattr(torch, args.dtype)))
        times[1].append(batched(args.trials, args.dtype, seed=repeat))
        times[2].append(batched(args.trials, args.dtype, seed=repeat, eps=1e-5))
        times[3].append(bare_batched(args.trials, getattr(torch, args.dtype), seed=repeat))
        times[4].append(
            bare_batched(args.trials, getattr(torch, args.dtype), seed=repeat, sampler=torch.float32)
        )
    n, b, e, f, f32 = (statistics.median(t) for t in times)
    print(
        f"{args.trials} trials, {args.dtype}, dense layer_norm x dataset_rescale, medians of {args.repeat}:"
    )
    print(
        f"  naive loop (assert_close, one trial per call, eps 0): {n:.3f} s ({n / args.trials * 1e6:.0f} us/trial)"
    )
    print(
        f"  invcheck run_check, batched, eps 0 (the same layer):  {b:.3f} s ({b / args.trials * 1e6:.0f} us/trial)"
    )
    print(
        f"  invcheck run_check, batched, eps 1e-5 (+ eps's measured effect, a run with eps off): "
        f"{e:.3f} s ({e / args.trials * 1e6:.0f} us/trial)"
    )
    print(
        f"  the loop's own math in one batch, drawn as it draws, nothing else (no noise, no float64 run, "
        f"no verdict): {f:.3f} s ({f / args.trials * 1e6:.0f} us/trial), {n / f:.1f}x the loop"
    )
    print(
        f"  the same, drawn as invcheck draws (float32 sampler): {f32:.3f} s ({f32 / args.trials * 1e6:.0f} us/trial), "
        f"{n / f32:.1f}x the loop (the draw, both passes and assert_close's test alone: no check does less)"
    )
    ratio = n / b
    print(
        f"  batched is {ratio:.1f}x the naive loop (target >= 20x: {'ok' if ratio >= 20 else 'MISSED'}); "
        f"with eps 1e-5 {n / e:.1f}x"
    )


if __name__ == "__main__":
    main()
