"""How long `invcheck table` takes, and how much of it is torch's import. Prints numbers; asserts nothing.

python benchmarks/bench_table.py [--repeat 5]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from arguments import add_repeat, new_parser


def wall(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def in_process(repeat: int) -> None:
    import torch  # noqa: F401  (imported before timing: this part measures invcheck's own work)

    from invcheck import table

    for layer in ("dense", "conv"):
        for dtype in ("float64", "float32", "bfloat16"):
            times, cells = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                cells = len(table.build([layer], dtype=dtype).cells)
                times.append(time.perf_counter() - start)
            print(
                f"  table.build([{layer!r}], dtype={dtype!r}): first {times[0]:.3f} s, "
                f"median {statistics.median(times):.3f} s ({cells} cells, 8 trials each)"
            )


def main() -> None:
    parser = new_parser()
    add_repeat(parser, 5)
    args = parser.parse_args()
    py = sys.executable
    rows = {
        "python -c 'import torch'": [py, "-c", "import torch"],
        "invcheck --help": [py, "-m", "invcheck", "--help"],
        "invcheck table": [py, "-m", "invcheck", "table"],
        "invcheck table --format json": [py, "-m", "invcheck", "table", "--format", "json"],
        "invcheck run specs/": [py, "-m", "invcheck", "run", "specs/"],
    }
    print(f"wall clock, {args.repeat} runs each (median, min):")
    for name, cmd in rows.items():
        t = wall(cmd, args.repeat)
        print(f"  {name:32s} {statistics.median(t):.3f} s  {min(t):.3f} s")
    print("in process, torch already imported:")
    in_process(args.repeat)


if __name__ == "__main__":
    main()
