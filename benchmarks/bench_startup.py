"""Start-up, side by side: `invcheck --help` against `import typer`, `invcheck table` against
`import torch`. Wall clock, medians, one intra-op thread, the pairs interleaved so that a busy
machine slows both sides alike. Prints the numbers and the ratios; asserts nothing.

    python benchmarks/bench_startup.py [--repeat 7] [--table-args "--layer dense"]

Targets (issue 10): help <= 1.5x, table <= 1.3x. The CLI imports torch with the garbage collector
paused (a full collection over torch's objects costs 40-80 ms, several happen): the last row holds
`invcheck table` against an `import torch` that does the same, i.e. invcheck's own work alone.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import time

from arguments import add_repeat, new_parser

ENTRY = "import sys; from invcheck.cli import main; sys.argv[0] = 'invcheck'; main()"  # the console script


# As installed: bytecode cached (an install compiles it; PYTHONDONTWRITEBYTECODE would make every run
# recompile invcheck's sources while typer's and torch's come precompiled).
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "OMP_NUM_THREADS": "1"}


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def pair(name: str, base: list[str], ours: list[str], repeat: int, target: float) -> float:
    wall(base), wall(ours)  # warm the file cache
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        times[0].append(wall(base))
        times[1].append(wall(ours))
    b, o = statistics.median(times[0]), statistics.median(times[1])
    ratio = o / b
    print(
        f"{name}: {o:.3f} s vs {b:.3f} s -> {ratio:.2f}x (target <= {target}x: {'ok' if ratio <= target else 'MISSED'})"
    )
    return ratio


def main() -> None:
    parser = new_parser(__doc__)
    add_repeat(parser, 7)
    parser.add_argument("--table-args", default="", help="extra arguments for `invcheck table`")
    args = parser.parse_args()
    py = sys.executable
    print(f"medians of {args.repeat} runs, OMP_NUM_THREADS=1, {py}")
    pair(
        "invcheck --help   vs import typer",
        [py, "-c", "import typer"],
        [py, "-c", ENTRY, "--help"],
        args.repeat,
        1.5,
    )
    pair(
        "invcheck table    vs import torch",
        [py, "-c", "import torch"],
        [py, "-c", ENTRY, "table", *shlex.split(args.table_args)],
        args.repeat,
        1.3,
    )
    imports = "import torch, invcheck.cli.table, invcheck.table, invcheck.measure, invcheck.render.rich"
    pair(
        "table's imports   vs import torch", [py, "-c", "import torch"], [py, "-c", imports], args.repeat, 1.3
    )
    # The CLI imports torch with the garbage collector paused and then frozen (cli.common.load_torch):
    # the same done to the baseline shows what is left of invcheck's own work.
    paused = "import gc; gc.disable(); import torch; gc.enable(); gc.freeze()"
    pair(
        "invcheck table    vs import torch the way invcheck imports it (gc paused)",
        [py, "-c", paused],
        [py, "-c", ENTRY, "table", *shlex.split(args.table_args)],
        args.repeat,
        1.3,
    )


if __name__ == "__main__":
    main()
