"""A check at a large shape against the two bare forward passes it must run, side by side.

Dense layer_norm x dataset_rescale (or weight_matrix_rescale), float32, 2048 cases x 2048 inputs
x 2048 units, 2 trials by default. The baseline is what the check cannot avoid: the inputs of both
sides in the checked dtype on the device, then y = LN(X W^T) and y' = LN(X' W'^T). Time: the two
forward passes alone against invcheck's whole `run_check` (draws included). Each side runs in a
child process of its own, after one run at size 64 (kernels loaded, lazy imports done); memory is
the process's high-water mark above what it held before (CPU: ru_maxrss; CUDA:
torch.cuda.max_memory_allocated). One thread on the CPU.

    python benchmarks/bench_size.py [--size 2048] [--trials 2] [--dtype float32] [--device cpu]
                                    [--transform weight_matrix_rescale] [--tf32]

Targets (issue 10): time and peak memory each at most 3x the bare forward passes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace

from arguments import add_repeat, new_parser

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _peak(device: str) -> float:
    import resource

    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20  # after reset_peak_memory_stats: from what is held
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare(size: int, trials: int, dtype: str, device: str, transform: str) -> dict[str, float]:
    """The two forward passes a check must run, on inputs already in the dtype on the device."""
    import torch

    torch_dtype = getattr(torch, dtype)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(trials, size, size, generator=gen, device=device, dtype=torch_dtype)
    w = torch.randn(trials, size, size, generator=gen, device=device, dtype=torch_dtype) / size**0.5
    x2, w2 = (3.0 * x, w) if transform.startswith("dataset") else (x, 3.0 * w)
    norm = torch.nn.functional.layer_norm
    _sync(device)
    start = time.perf_counter()
    y = norm(x @ w.transpose(1, 2), (size,), eps=1e-5)
    y2 = norm(x2 @ w2.transpose(1, 2), (size,), eps=1e-5)
    _sync(device)
    del y, y2
    return {"seconds": time.perf_counter() - start}


def invcheck(size: int, trials: int, dtype: str, device: str, transform: str, tf32: bool) -> dict[str, float]:
    """invcheck's whole check (draws included), and a fresh draw alone (on the CPU whatever the device)."""
    from invcheck.draws import draw
    from invcheck.runner import run_check
    from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig

    layer = LayerConfig(kind="dense", cases=size, inputs=size, units=size)
    check = CheckConfig(
        norm=NormConfig(id="layer_norm"),
        transform=TransformConfig(id=transform),
        layer=layer,
        trials=trials,
        dtype=dtype,
        device=device,
        tf32=tf32,
    )
    start = time.perf_counter()
    verdict = run_check(check).verdict
    _sync(device)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    draw(replace(check, seed=check.seed + 1))
    return {"seconds": seconds, "verdict": verdict, "drawing": time.perf_counter() - start}


def child(
    which: str, size: int, trials: int, dtype: str, device: str, transform: str, tf32: bool
) -> dict[str, float]:
    """One side, in this process, after a run at size 64 (kernels loaded, lazy imports done): its
    seconds and MiB of peak memory above what the process held before."""
    import torch

    torch.set_num_threads(1)
    torch.backends.cuda.matmul.allow_tf32 = tf32  # the bare side as invcheck's numerics() sets it
    run = (
        (lambda n: bare(n, trials, dtype, device, transform))
        if which == "bare"
        else (lambda n: invcheck(n, trials, dtype, device, transform, tf32))
    )
    run(64)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    before = _peak(device)
    numbers = run(size)
    return {**numbers, "peak_mib": _peak(device) - before}


def measure(which: str, args: argparse.Namespace) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        which,
        "--size",
        str(args.size),
        "--trials",
        str(args.trials),
        "--dtype",
        args.dtype,
        "--device",
        args.device,
        "--transform",
        args.transform,
    ] + ["--tf32"] * args.tf32
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = new_parser(__doc__)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "float64"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--transform", default="dataset_rescale", choices=("dataset_rescale", "weight_matrix_rescale")
    )
    parser.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 in both sides' matmuls")
    add_repeat(parser, 3)
    parser.add_argument("--child", choices=("bare", "invcheck"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                child(args.child, args.size, args.trials, args.dtype, args.device, args.transform, args.tf32)
            )
        )
        return
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "invcheck": []}
    for _ in range(args.repeat):  # interleaved: a busy machine slows both alike
        for which in runs:
            runs[which].append(measure(which, args))
    med = {
        w: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "peak_mib")} for w, rs in runs.items()
    }
    n = args.size
    print(
        f"dense layer_norm x {args.transform}, {n} cases x {n} inputs x {n} units, {args.trials} trials, "
        f"{args.dtype} on {args.device}{' (TF32)' if args.tf32 else ''}, one CPU thread, "
        f"medians of {args.repeat} (each in its own process):"
    )
    print(
        f"  bare forward passes (y and y'): {med['bare']['seconds']:.3f} s, {med['bare']['peak_mib']:.0f} MiB"
    )
    drawing = statistics.median(r["drawing"] for r in runs["invcheck"])
    print(
        f"  invcheck run_check:             {med['invcheck']['seconds']:.3f} s, "
        f"{med['invcheck']['peak_mib']:.0f} MiB (verdict {runs['invcheck'][0]['verdict']}); "
        f"of its time, drawing X and W in float64 on the CPU: {drawing:.3f} s"
    )
    for what, key in (("time", "seconds"), ("peak memory", "peak_mib")):
        ratio = med["invcheck"][key] / max(med["bare"][key], 1e-9)
        print(
            f"  {what}: {ratio:.2f}x the bare forward passes (target <= 3x: {'ok' if ratio <= 3 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
