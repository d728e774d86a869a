"""Renderers: each takes a report and returns text. Data apart from display."""

from __future__ import annotations

from typing import Any


def table(report: Any, fmt: str, color: bool = False, width: int = 80) -> str:
    from invcheck.render import csv, json, latex, markdown, rich

    if fmt == "rich":
        return rich.table(report, color, width)
    return {"markdown": markdown, "csv": csv, "latex": latex, "json": json}[fmt].table(report)


def run(report: Any, fmt: str, color: bool = False, width: int = 80, quiet: bool = False) -> str:
    from invcheck.render import json, rich

    return rich.run(report, color, width, quiet) if fmt == "rich" else json.run(report)
