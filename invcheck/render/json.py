"""JSON: the report's numbers as one object, names as in DESIGN.md."""

from __future__ import annotations

import json
from typing import Any


def table(report: Any) -> str:
    return json.dumps({**report.meta, "cells": [c.to_dict() for c in report.cells]}, indent=2)


def run(report: Any) -> str:
    return json.dumps({**report.meta, "results": [r.to_dict() for r in report.results],
                       "passed": report.passed, "failed": report.failed}, indent=2)
