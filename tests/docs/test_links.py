"""Every relative link in README.md and docs/*.md reaches a file (pages move; links must follow)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Pages written on other branches at the same time as these (scan, trust, API objects, extending):
# linked already, so that the links work once they are merged. Empty this once they are.
PENDING = {"docs/scan.md", "docs/trust.md", "docs/your-own-objects.md", "docs/extending.md"}


def test_relative_links_reach_files() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in LINK.finditer(page.read_text(encoding="utf-8")):
            target = match.group(1)
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve()
            if not path.exists() and str(path.relative_to(ROOT)) not in PENDING:
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
