"""CSV: one row per cell (long format), for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = (
    "layer",
    "placement",
    "norm",
    "transform",
    "verdict",
    "deviation",
    "tolerance",
    "bound",
    "paper",
    "survey",
    "agrees",
    "note",
    "reference",
)


def table(report: Any) -> str:
    out = io.StringIO()
    columns = COLUMNS + ("proof",) if report.meta.get("prove") else COLUMNS  # --prove adds a column
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cell in report.cells:
        writer.writerow({k: ("" if v is None else v) for k, v in cell.to_dict().items()})
    return out.getvalue()
