"""Results as JUnit XML, the report format CI services show: one <testcase> per check.

    <testsuites name tests failures errors time>
      <testsuite name tests failures errors skipped time>
        <testcase classname="specs.norms.invcheck.yaml" name="dense/layer_norm/dataset_rescale" time>
          <failure message type>evidence</failure>      when the verdict is not the expected one (`undefined` too)
          <skipped message/>                            when it is `undefined` and nothing was expected
          <error message type="error">message</error>   when the check could not run (verdict `error`)
          <system-out>verdict: invariant ...</system-out>   the numbers, one `key: value` a line

The shape is the one the Jenkins xUnit plugin's JUnit schema (junit-10.xsd) accepts, which most CI
services read: a testcase has only name, classname and time, and no <properties>, so the spec's
file:line and the numbers (in full precision, repr; absent values left out) are in <system-out>.
Ids are the pytest plugin's: classname the spec's path with '/' as '.', name the check's title,
'@line' added to a title repeated in a file.

Outcomes are the console's and the pytest plugin's, in JUnit's words: a failure is a verdict other
than the expected one (an `undefined` where a claim was made among them: exit 1, FAIL, a failed
item); an error is a check that could not run at all (exit 2, ERR, an error in pytest's setup); a
skip is a check with neither a claim nor a measurement. A check without `expect:` and with a verdict passes.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from invcheck.display import shown_path
from invcheck.errors import one_line
from invcheck.evidence import explain

if TYPE_CHECKING:
    from invcheck.evidence import Result

# XML 1.0 cannot hold these characters even escaped; ElementTree would write them as they are.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render(results: Sequence[Result], *, suite: str = "invcheck") -> str:
    """The JUnit XML document of `results`, as text (with its XML declaration)."""
    cases = [_testcase(result) for result in results]
    _disambiguate(cases, results)
    counts = _counts(cases, results)
    root = ET.Element(
        "testsuites", {"name": _clean(suite), **{k: v for k, v in counts.items() if k != "skipped"}}
    )
    testsuite = ET.SubElement(root, "testsuite", {"name": _clean(suite), **counts})
    testsuite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _disambiguate(cases: list[ET.Element], results: Sequence[Result]) -> None:
    """Each spec file's checks named as the pytest plugin names its items (`settings.test_names`:
    '@line' added to a repeated name): report tools merge testcases of the same name."""
    from invcheck.settings import test_names

    files: dict[str | None, list[int]] = {}
    for i, case in enumerate(cases):
        files.setdefault(case.get("classname"), []).append(i)
    for indices in files.values():
        for i, name in zip(indices, test_names([results[i].check for i in indices])):
            cases[i].set("name", _clean(name))


def outcome(result: Result) -> str:
    """ "passed", "failure", "error" or "skipped": what a result is in JUnit's (and CI's) words."""
    if result.verdict == "error":
        return "error"
    if result.verdict == "undefined" and not result.check.expect:
        return "skipped"
    return "failure" if result.expected is False else "passed"


def _testcase(result: Result) -> ET.Element:
    attrs = {
        "classname": _classname(result),
        "name": _clean(result.check.title),
        "time": _seconds(result.seconds),
    }
    case = ET.Element("testcase", attrs)
    kind = outcome(result)
    if kind != "passed":
        _outcome(case, kind, result)
    out = ET.SubElement(case, "system-out")
    lines = [f"spec: {result.check.location}"] if result.check.location else []
    lines += [f"{k}: {v}" for k, v in _properties(result).items()]
    out.text = _clean("\n".join(one_line(line) for line in lines))
    return case


def _outcome(case: ET.Element, kind: str, result: Result) -> None:
    if result.verdict == "error":  # the check did not run: its one-line message is the evidence
        # a user exception's text, escaped as on the console: no bidi override (U+202E) or
        # control character reaches a CI page raw
        why = one_line(result.why)
        element = ET.SubElement(case, "error", message=_clean(why), type="error")
        element.text = _clean(f"{why}\n  spec: {one_line(result.check.location or '<spec>')}")
        return
    evidence = explain(result, result.check.expect)
    summary = evidence.splitlines()[0]
    if kind == "skipped":
        ET.SubElement(case, "skipped", message=_clean(f"undefined: {result.why}"))
        return
    element = ET.SubElement(case, kind, message=_clean(summary), type=result.verdict)
    element.text = _clean(evidence)


def _properties(result: Result) -> dict[str, str]:
    c = result.check
    values: dict[str, Any] = {
        "verdict": result.verdict,
        "expect": c.expect,
        "deviation": result.deviation,
        "tolerance": result.tolerance,
        "ratio": result.ratio,
        "bound": result.bound,
        "why": result.why,
        "layer": c.layer.kind,
        "norm": c.norm.label,
        "transform": c.transform.id,
        "dtype": c.dtype,
        "device": result.device,
        "tf32": c.tf32,
        "trials": c.trials,
        "seed": c.seed,
    }
    values.update({f"where.{key}": value for key, value in result.where.items()})
    return {name: _text(value) for name, value in values.items() if value is not None}


def _counts(cases: list[ET.Element], results: Sequence[Result]) -> dict[str, str]:
    kinds = [outcome(result) for result in results]
    return {
        "tests": str(len(cases)),
        "failures": str(kinds.count("failure")),
        "errors": str(kinds.count("error")),
        "skipped": str(kinds.count("skipped")),
        "time": _seconds(sum(result.seconds for result in results)),
    }


def _classname(result: Result) -> str:
    """pytest's classname for the same spec: its path from the working directory, '/' read as '.'
    (`specs/norms.invcheck.yaml` -> `specs.norms.invcheck.yaml`), so that `invcheck run --junit-xml`
    and `pytest --junit-xml` give the same test ids; the layer kind for a check without a file."""
    c = result.check
    if not c.file:
        return c.layer.kind
    path = shown_path(c.file)  # "<stdin>" stays as it is; a file outside the working directory too
    return _clean(path.replace(os.sep, "/").strip("/").replace("/", "."))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _seconds(seconds: float) -> str:
    return f"{seconds:.6f}"


def _clean(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (escaping of <, &, quotes is ElementTree's)."""
    return _NOT_XML.sub("\ufffd", text)
