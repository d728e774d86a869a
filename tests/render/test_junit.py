"""JUnit XML: parsed back, it has the common testsuites > testsuite > testcase shape and our numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from invcheck.api import check
from invcheck.render.junit import outcome, render
from invcheck.runner import run_check
from invcheck.verdict import Result


def spec_check(expect: str | None, **changes: object):
    return check(**changes).with_(expect=expect, file="specs/table.invcheck.yaml", line=7)


@pytest.fixture(scope="module")
def results() -> list[Result]:
    """Real runs: a kept claim, a broken one, an error, a skip and a claim-free pass."""
    return [
        run_check(c)
        for c in (
            spec_check("invariant", norm="layer_norm", transform="dataset_rescale"),
            spec_check("invariant", norm="layer_norm", transform="dataset_recenter"),
            spec_check("not_invariant", norm="instance_norm"),
            spec_check(None, norm="instance_norm"),
            check(norm="rms_norm", transform="case_rescale"),
        )
    ]


def parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(text.encode())


def test_structure_and_counts(results: list[Result]) -> None:
    root = parse(render(results, suite="nightly"))
    assert root.tag == "testsuites" and [child.tag for child in root] == ["testsuite"]
    suite = root[0]
    assert {child.tag for child in suite} == {"testcase"} and len(suite) == 5
    for element in (root, suite):
        assert element.get("name") == "nightly"
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == ("5", "2", "0")
    assert suite.get("skipped") == "1" and root.get("skipped") is None  # the schema has it on testsuite only
    for element in (root, suite):
        assert float(element.get("time")) == pytest.approx(sum(r.seconds for r in results), abs=1e-5)
    for case in suite:
        assert case.get("name") and case.get("classname") and float(case.get("time")) >= 0
        assert case[-1].tag == "system-out"  # the numbers; a testcase takes no <properties> (junit-10.xsd)


def test_outcomes_and_messages(results: list[Result]) -> None:
    # an undefined verdict where a claim was made fails, as on the console (exit 1) and under pytest
    assert [outcome(r) for r in results] == ["passed", "failure", "failure", "skipped", "passed"]
    cases = parse(render(results))[0]
    assert [child.tag for child in cases[0]] == ["system-out"]
    failure = cases[1].find("failure")
    assert (
        failure.get("message") == "dense/layer_norm/dataset_recenter: expected invariant, got not_invariant"
    )
    assert failure.get("type") == "not_invariant"
    assert f"deviation {results[1].deviation:.3g} > tolerance" in failure.text
    assert "spec: specs/table.invcheck.yaml:7" in failure.text
    undefined = cases[2].find("failure")
    assert undefined.get("type") == "undefined" and "no verdict: instance_norm needs" in undefined.text
    assert cases[3].find("skipped").get("message").startswith("undefined: instance_norm")


def numbers(case: ET.Element) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in case.find("system-out").text.splitlines())


def test_system_out_holds_the_numbers(results: list[Result]) -> None:
    cases = parse(render(results))[0]
    props = numbers(cases[1])
    assert props["spec"] == "specs/table.invcheck.yaml:7"
    assert props["verdict"] == "not_invariant" and props["expect"] == "invariant"
    assert float(props["deviation"]) == results[1].deviation  # full precision
    assert float(props["tolerance"]) == results[1].tolerance
    assert (props["bound"], props["dtype"], props["device"]) == ("rounding", "float64", "cpu")
    assert props["where.trial"] == str(results[1].where["trial"])
    undefined = numbers(cases[3])
    assert "deviation" not in undefined and "expect" not in undefined  # absent values left out


def test_names_and_classnames(results: list[Result]) -> None:
    cases = parse(render(results))[0]
    # pytest's classname for the same file: its path with '/' as '.'
    assert cases[0].get("classname") == "specs.table.invcheck.yaml"
    assert cases[0].get("name") == "dense/layer_norm/dataset_rescale"
    assert cases[4].get("classname") == "dense"


def test_escaping(results: list[Result]) -> None:
    nasty = 'a <b> & "c" \x1b[31m\x00'
    result = results[1]
    odd = Result(result.check.with_(name=nasty), "not_invariant", 1.0, 1e-9, "rounding", "why <&>")
    case = parse(render([odd], suite="<s&>"))[0][0]
    assert case.get("name") == 'a <b> & "c" \ufffd[31m\ufffd'
    assert "why <&>" in case.find("failure").text


def test_empty() -> None:
    root = parse(render([]))
    assert root[0].get("tests") == "0" and len(root[0]) == 0


def test_repeated_names_get_their_line() -> None:
    from invcheck.runner import run_checks
    from invcheck.settings import CheckConfig, NormConfig, TransformConfig

    checks = [
        CheckConfig(
            norm=NormConfig(id="batch_norm", mode=mode),
            transform=TransformConfig(id="dataset_rescale"),
            trials=2,
            file="s.yaml",
            line=line,
        )
        for mode, line in (("train", 3), ("eval", 7))
    ]
    root = ET.fromstring(render(run_checks(checks)))
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == [
        "dense/batch_norm/dataset_rescale",
        "dense/batch_norm/dataset_rescale@7",
    ]  # as the plugin's


# What the Jenkins xUnit plugin's JUnit schema (junit-10.xsd, jenkinsci/xunit-plugin) requires, as
# data: each element's allowed attributes (required ones first, by count), and its allowed children.
XUNIT_SHAPE = {
    "testsuites": (0, ("name", "time", "tests", "failures", "errors"), ("testsuite",)),
    "testsuite": (
        4,
        (
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
        ),
        ("testsuite", "properties", "testcase", "system-out", "system-err"),
    ),
    "testcase": (
        1,
        ("name", "time", "classname", "group"),
        (
            "skipped",
            "error",
            "failure",
            "rerunFailure",
            "rerunError",
            "flakyFailure",
            "flakyError",
            "system-out",
            "system-err",
        ),
    ),
    "failure": (0, ("type", "message"), ()),
    "error": (0, ("type", "message"), ()),
    "skipped": (0, ("type", "message"), ()),
    "system-out": (0, (), ()),
    "system-err": (0, (), ()),
}
SUREFIRE_TIME = r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?"


def xunit_problems(element: ET.Element) -> list[str]:
    import re

    required, allowed, children = XUNIT_SHAPE[element.tag]
    out = [f"{element.tag}: attribute {a!r} not allowed" for a in element.attrib if a not in allowed]
    out += [f"{element.tag}: attribute {a!r} missing" for a in allowed[:required] if a not in element.attrib]
    if (
        element.tag.startswith("testsuite")
        and "time" in element.attrib
        and not re.fullmatch(SUREFIRE_TIME, element.get("time"))
    ):
        out.append(f"{element.tag}: time {element.get('time')!r}")
    for child in element:
        out += (
            [f"{element.tag}: child {child.tag!r} not allowed"]
            if child.tag not in children
            else xunit_problems(child)
        )
    return out


def test_passes_the_jenkins_xunit_junit_schema(results: list[Result]) -> None:
    from invcheck.errors import DeviceError
    from invcheck.runner import error_result

    broken = error_result(spec_check("invariant", norm="layer_norm"), DeviceError("no CUDA device"))
    root = parse(render([*results, broken]))
    assert xunit_problems(root) == []
    assert xunit_problems(ET.fromstring('<testsuites skipped="0"/>')) == [
        "testsuites: attribute 'skipped' not allowed"
    ]


def test_a_check_that_could_not_run_is_an_error() -> None:
    from invcheck.errors import UserCodeError
    from invcheck.runner import error_result

    broken = error_result(
        spec_check("invariant", norm="layer_norm"), UserCodeError("mynorms.py: boom (fix it)")
    )
    assert outcome(broken) == "error"
    root = parse(render([broken]))
    error = root[0][0].find("error")
    assert error.get("message") == "mynorms.py: boom (fix it)" and error.get("type") == "error"
    assert "spec: specs/table.invcheck.yaml:7" in error.text
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_names_stay_unique_when_a_title_looks_like_a_suffixed_one() -> None:
    from invcheck.settings import CheckConfig, test_names

    checks = [
        CheckConfig(name=name, file="s.yaml", line=line) for name, line in (("x", 2), ("x", 3), ("x@3", 4))
    ]
    assert test_names(checks) == ["x", "x@3", "x@3@4"]  # the written x@3 did not take the repeated x's id
