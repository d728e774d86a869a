"""How long `invcheck scan` takes per (tensor, transform), against the model's bare forward pass.

    OMP_NUM_THREADS=1 python benchmarks/bench_scan.py

For each example model (examples/scan_resnet.py in train and eval mode, examples/scan_prenorm.py)
in float32 and bfloat16: the bare forward pass (the model's own dtype, no_grad, median of 20), the
whole scan (everything included: the copy, baselines, noise probes, every tensor and group, the
eps and generic phases), the number of (tensor, transform) pairs, and

    ratio = scan time / (forward time x pairs)      target: at most 5

One thread (torch.set_num_threads(1)), so that the numbers do not depend on the machine's cores.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import scan_prenorm
import scan_resnet

from invcheck.scan import scan

CASES = (
    ("resnet", scan_resnet.build, "train"),
    ("resnet", scan_resnet.build, "eval"),
    ("prenorm", scan_prenorm.build, "eval"),
)


def forward_seconds(model: torch.nn.Module, x: torch.Tensor, mode: str, repeats: int = 20) -> float:
    model.train(mode == "train")
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread")
    print(f"{'model':9} {'mode':5} {'dtype':8} {'forward':>9} {'scan':>8} {'pairs':>5} {'ratio':>6}")
    for name, build, mode in CASES:
        for dtype in (torch.float32, torch.bfloat16):
            model, x = build()
            model, x = model.to(dtype), x.to(dtype)
            fwd = forward_seconds(model, x, mode)
            if mode == "train":  # the benchmark's forward passes moved the running statistics: fresh ones
                model, x = build()
                model, x = model.to(dtype), x.to(dtype)
            start = time.perf_counter()
            report = scan(model, x, mode=mode)
            seconds = time.perf_counter() - start
            pairs = len(report.parameters)
            ratio = seconds / (fwd * pairs)
            print(
                f"{name:9} {mode:5} {str(dtype).removeprefix('torch.'):8} {fwd * 1e3:7.2f}ms "
                f"{seconds:7.2f}s {pairs:5d} {ratio:6.2f}"
            )


if __name__ == "__main__":
    main()
