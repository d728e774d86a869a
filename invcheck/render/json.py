"""JSON: the report's numbers as one object, names as in the README, with the format's version."""

from __future__ import annotations

import json
from typing import Any

# Bumped when a key is removed or changes meaning (new keys do not bump it): readers check it.
SCHEMA_VERSION = 1


def table(report: Any) -> str:
    return json.dumps(
        {"schema_version": SCHEMA_VERSION, **report.meta, "cells": [c.to_dict() for c in report.cells]},
        indent=2,
    )


def run(report: Any) -> str:
    return json.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            **report.meta,
            "results": [r.to_dict() for r in report.results],
            "passed": report.passed,
            "failed": report.failed,
            "errors": report.errors,
        },
        indent=2,
    )


def why(key: str, docs: list[dict[str, Any]], **extra: Any) -> str:
    """explain, prove and sweep: one object whatever the number of cells, `key` holding a list."""
    return json.dumps({"schema_version": SCHEMA_VERSION, key: docs, **extra}, indent=2, ensure_ascii=False)
