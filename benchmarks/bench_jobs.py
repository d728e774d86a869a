"""Whether `invcheck run --jobs N` pays here: the same specs with 1 and N worker processes, wall
clock, medians, interleaved. Workers are forked after torch is imported, so they do not import it
again; what they cost is the fork and the results sent back.

    python benchmarks/bench_jobs.py [--jobs 2] [--repeat 3] [specs ...]   (default: specs/ examples/layer_norm_table.yaml)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from arguments import add_repeat, new_parser

ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "OMP_NUM_THREADS": "1"}


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "invcheck", "run", "-q", *args], stdout=subprocess.DEVNULL, env=ENV
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"invcheck run failed ({proc.returncode})")
    return time.perf_counter() - start


def main() -> None:
    parser = new_parser(__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    add_repeat(parser, 3)
    parser.add_argument("specs", nargs="*", default=["specs/", "examples/layer_norm_table.yaml"])
    args = parser.parse_args()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(args.repeat):
        times[0].append(wall(args.specs))
        times[1].append(wall([*args.specs, "--jobs", str(args.jobs)]))
    one, many = statistics.median(times[0]), statistics.median(times[1])
    print(f"invcheck run {' '.join(args.specs)} on {os.cpu_count()} cores, medians of {args.repeat}:")
    print(f"  --jobs 1: {one:.2f} s   --jobs {args.jobs}: {many:.2f} s   -> {one / many:.2f}x")


if __name__ == "__main__":
    main()
