"""`scan:` entries in `invcheck run --junit-xml`: one <testcase> per entry, added to the checks' report.

Named as the pytest plugin names the items (`scan: NAME`, classname the spec's path with '/' read as
'.'), a failure holding every expectation that did not hold, an error the one line of an entry that
could not run; the suite's counts include them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, cast

from invcheck.scan.spec import Outcome, ScanRun, item_names


def with_scans(xml: str, done: ScanRun) -> str:
    """The JUnit document `xml` (render/junit.py's) with a testcase per scan outcome."""
    if not done.outcomes:
        return xml
    from invcheck.render.junit import _classname, _clean, _seconds

    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    taken: dict[str, set[str]] = {}  # classname -> test ids so far (the checks', then the scans')
    for case in suite.iter("testcase"):
        taken.setdefault(case.get("classname", ""), set()).add(case.get("name", ""))
    for o in done.outcomes:
        classname = _classname(cast(Any, _Located(o.entry.file))) if o.entry.file else "scan"
        (name,) = item_names([o.entry], taken.setdefault(classname, set()))  # as pytest names it
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=_clean(name), time=_seconds(o.seconds)
        )
        _outcome(case, o, _clean)
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"spec: {o.entry.location}\nmodel: {o.entry.model}\nmode: {o.entry.mode}")
    for element in (root, suite):
        for key, add in (("tests", len(done.outcomes)), ("failures", done.failed), ("errors", done.errors)):
            element.set(key, str(int(element.get(key, "0")) + add))
        element.set("time", _seconds(float(element.get("time", "0")) + sum(o.seconds for o in done.outcomes)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _outcome(case: ET.Element, o: Outcome, clean: Callable[[str], str]) -> None:
    """`clean`: render/junit.py's, which drops the characters XML 1.0 forbids."""
    if o.error is not None:
        element = ET.SubElement(case, "error", message=clean(o.error), type="error")
        element.text = clean(f"{o.error}\n  spec: {o.entry.location}")
    elif o.mismatches:
        summary = f"{len(o.mismatches)} verdict(s) differ: {o.mismatches[0]}"
        element = ET.SubElement(case, "failure", message=clean(summary), type="scan")
        element.text = clean("\n".join(o.mismatches))


class _Located:
    """What render/junit.py's classname reads from a result: `.check.file`."""

    def __init__(self, file: str) -> None:
        self.check = self
        self.file = file
