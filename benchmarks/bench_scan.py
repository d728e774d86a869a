"""How long `invcheck scan` takes per (tensor, transform), against the model's bare forward pass.

    OMP_NUM_THREADS=1 python benchmarks/bench_scan.py [--quick]

For each example model (examples/scan_resnet.py in train and eval mode, examples/scan_prenorm.py),
at a realistic size and at the examples' tiny default size, in float32 and bfloat16: the bare
forward pass (the model in its own dtype, no_grad, the fastest of 10), the whole scan (everything
included: the float64 copy, baselines, noise probes, every tensor and joint group, the eps and
generic phases), the number of (tensor, transform) pairs, and

    ratio = scan time / (forward time x pairs)      target: at most 5

Times are the process's CPU time (time.process_time) with one thread (torch.set_num_threads(1)):
on a shared machine wall-clock time measures the other processes too; the wall-clock ratio is
printed beside it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import scan_prenorm
import scan_resnet

from invcheck.scan import scan

REALISTIC = (
    ("resnet", scan_resnet.build, {"batch": 32, "size": 32, "width": 16}, "train"),
    ("resnet", scan_resnet.build, {"batch": 32, "size": 32, "width": 16}, "eval"),
    ("prenorm", scan_prenorm.build, {"batch": 8, "tokens": 64, "dim": 128}, "eval"),
)
TINY = (
    ("resnet", scan_resnet.build, {}, "train"),
    ("prenorm", scan_prenorm.build, {}, "eval"),
)


def timed(f: Callable[[], Any]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    f()
    return time.process_time() - cpu, time.perf_counter() - wall


def forward(model: torch.nn.Module, x: torch.Tensor, mode: str, repeats: int = 10) -> tuple[float, float]:
    model.train(mode == "train")
    with torch.no_grad():
        model(x)  # warm-up
        times = [timed(lambda: model(x)) for _ in range(repeats)]
    return min(t[0] for t in times), min(t[1] for t in times)


def row(name: str, build: Callable[..., Any], kwargs: dict[str, int], mode: str, dtype: torch.dtype) -> str:
    model, x = build(**kwargs)
    model, x = model.to(dtype), x.to(dtype)
    fwd_cpu, fwd_wall = forward(model, x, mode)
    model, x = build(**kwargs)  # fresh running statistics: the forward passes above moved them
    model, x = model.to(dtype), x.to(dtype)
    report = None

    def run() -> None:
        nonlocal report
        report = scan(model, x, mode=mode)

    cpu, wall = timed(run)
    assert report is not None
    pairs = len(report.parameters)
    size = ",".join(f"{k}={v}" for k, v in kwargs.items()) or "default"
    return (
        f"{name:8} {size:26} {mode:5} {str(dtype).removeprefix('torch.'):8} {fwd_cpu * 1e3:8.2f}ms "
        f"{cpu:7.2f}s {pairs:5d} {len(report.groups):6d} {cpu / (fwd_cpu * pairs):6.2f} "
        f"{wall / (fwd_wall * pairs):6.2f}"
    )


def main() -> None:
    torch.set_num_threads(1)
    quick = "--quick" in sys.argv
    print(f"torch {torch.__version__}, 1 thread; times: CPU time of this process")
    print(
        f"{'model':8} {'size':26} {'mode':5} {'dtype':8} {'forward':>10} {'scan':>8} {'pairs':>5} "
        f"{'groups':>6} {'ratio':>6} {'(wall)':>6}"
    )
    for name, build, kwargs, mode in TINY if quick else (*REALISTIC, *TINY):
        for dtype in (torch.float32, torch.bfloat16):
            print(row(name, build, kwargs, mode, dtype), flush=True)


if __name__ == "__main__":
    main()
