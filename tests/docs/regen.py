"""Rewrite the output of every ```console block in README.md and docs/*.md from the tool's current output.

    python -m tests.docs.regen                 # every page
    python -m tests.docs.regen docs/why.md     # some pages
    python -m tests.docs.regen --slow          # the benchmarks' outputs too (minutes)

Run it from the repository root after a change that moves a number on purpose, then read the diff
(`git diff -- README.md docs/`): the docs test fails until the pages show what the tool prints.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as under the test suite: the same sums, the same digits

from tests.docs.console import OUTPUT, ROOT, run_block, slow

BLOCK = re.compile(r"^```console\n(.*?)^```$", re.DOTALL | re.MULTILINE)
# A pasted session in a block of another kind (```text, ```bash, ...): made a console block, so it is checked.
PASTED = re.compile(r"^```(?:text|bash|sh|shell|)\n(?=\$ (?:invcheck|pytest)\b)", re.MULTILINE)
PAGES = ("README.md", "docs/*.md")


def regenerate(text: str, benchmarks: bool = False) -> str:
    """The page with each console block's outputs replaced by what its commands print now
    (a benchmark's block only with `benchmarks`)."""

    def block(match: re.Match[str]) -> str:
        if slow(match.group(1)) and not benchmarks:
            return match.group(0)
        try:
            results = run_block(match.group(1))
        except ValueError as err:  # a command this runner does not run (`cat x | invcheck run -`)
            print(f"left as it was: {err}", file=sys.stderr)
            return match.group(0)
        parts = [command.raw + ("\n" + output if output else "") for command, output in results]
        return "```console\n" + "\n".join(parts) + "\n```"

    def shown(match: re.Match[str]) -> str:
        ((_, output),) = run_block(f"$ {match['command']}")
        return f"<!-- $ {match['command']} -->\n{output}\n<!-- end -->"

    return OUTPUT.sub(shown, BLOCK.sub(block, PASTED.sub("```console\n", text)))


def pages(args: list[str]) -> list[Path]:
    if args:
        return [Path(a).resolve() for a in args]
    return sorted(p for pattern in PAGES for p in ROOT.glob(pattern))


def main(args: list[str]) -> int:
    benchmarks = "--slow" in args
    for page in pages([a for a in args if a != "--slow"]):
        old = page.read_text(encoding="utf-8")
        new = regenerate(old, benchmarks)
        if new != old:
            page.write_text(new, encoding="utf-8")
            print(f"rewrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
