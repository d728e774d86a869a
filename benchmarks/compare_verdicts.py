"""Compare two `invcheck table --format json` files cell by cell: which verdicts differ.

    python benchmarks/compare_verdicts.py cpu-float32.json cuda-float32.json

Prints one line per differing cell and a count; exits 0 either way (a difference is a finding,
not a crash), 2 when a file cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cells(path: Path) -> tuple[dict, dict[tuple[str, str, str], dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data, {(c["layer"], c["norm"], c["transform"]): c for c in data["cells"]}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    try:
        (_meta_a, a), (meta_b, b) = cells(Path(argv[0])), cells(Path(argv[1]))
    except (OSError, ValueError, KeyError) as err:
        print(f"cannot compare: {err}")
        return 2
    label = (
        f"{Path(argv[1]).stem} ({meta_b.get('device')}, tf32 {meta_b.get('tf32')}) vs {Path(argv[0]).stem}"
    )
    differ = [key for key in a if key in b and a[key]["verdict"] != b[key]["verdict"]]
    missing = [key for key in a if key not in b]
    for key in differ:
        x, y = a[key], b[key]
        print(
            f"  {'/'.join(key)}: {x['verdict']} (dev {x['deviation']}) vs {y['verdict']} "
            f"(dev {y['deviation']}, tol {y['tolerance']})"
        )
    print(
        f"{label}: {len(a) - len(differ) - len(missing)} of {len(a)} cells agree, {len(differ)} differ"
        + (f", {len(missing)} missing" if missing else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
