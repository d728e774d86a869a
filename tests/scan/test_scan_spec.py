"""`scan:` entries of a spec file: read and validated (torch-free), held to a report, run by
`invcheck run` and by the pytest plugin."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from invcheck import spec
from invcheck.errors import SpecError
from invcheck.scan import spec as scan_spec
from tests.scan.handmade import report

INV, NOT = "invariant", "not_invariant"

GOOD = """\
scan:
  - name: bn net
    model: nets.py:bn_net
    kwargs: {width: 8}
    mode: train
    expect:
      "0.weight": {weight_matrix_rescale: invariant, weight_vector_rescale: invariant}
      "3.*": {weight_matrix_rescale: not_invariant}
"""

NETS = """\
import torch
from torch import nn


def bn_net(width=8):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 3))
    return net, torch.randn(16, 6)


def broken(width=8):
    raise RuntimeError("no weights here")


def not_a_model(width=8):
    return 42


def slow(width=8):
    import time

    time.sleep(30)
"""


def _write(folder: Path, text: str, name: str = "zoo.invcheck.yaml") -> Path:
    (folder / "nets.py").write_text(NETS)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


# Reading -----------------------------------------------------------------------------------------


def test_an_entry_is_read_with_its_lines(tmp_path: Path) -> None:
    (entry,) = scan_spec.load_file(_write(tmp_path, GOOD))
    assert (entry.name, entry.model, entry.kwargs, entry.mode) == (
        "bn net",
        "nets.py:bn_net",
        {"width": 8},
        "train",
    )
    assert entry.line == 2 and entry.seed == 0 and entry.input_shape is None
    assert [(x.glob, x.transform, x.verdict, x.line) for x in entry.expect] == [
        ("0.weight", "weight_matrix_rescale", INV, 7),
        ("0.weight", "weight_vector_rescale", INV, 7),
        ("3.*", "weight_matrix_rescale", NOT, 8),
    ]


def test_one_entry_without_a_list_and_beside_checks(tmp_path: Path) -> None:
    text = """\
    checks:
      - {norm: layer_norm, transform: dataset_rescale, expect: invariant}
    scan:
      model: mypkg.models:resnet
      input_shape: [2, 3, 8, 8]
      expect: {"*.weight": {weight_matrix_recenter: not_invariant}}
    """
    path = _write(tmp_path, text)
    assert len(spec.load_file(path)) == 1  # the check; the scan entry does not make it fail
    (entry,) = scan_spec.load_file(path)
    assert entry.input_shape == (2, 3, 8, 8) and entry.title == "mypkg.models:resnet (eval)"


def test_a_file_of_scans_only_has_no_checks_and_no_error(tmp_path: Path) -> None:
    assert spec.load_file(_write(tmp_path, GOOD)) == []
    assert spec.validate([tmp_path]) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "scan:\n  - model: nets.py:f\n    mode: training\n    expect: {a: {weight_matrix_rescale: invariant}}\n",
            "zoo.invcheck.yaml:3: unknown mode 'training' (did you mean 'train'?)",
        ),
        (
            "scan:\n  - model: nets.py:f\n    inputshape: [3]\n    expect: {a: {weight_matrix_rescale: invariant}}\n",
            "zoo.invcheck.yaml:3: unknown key 'inputshape' in a scan entry (did you mean 'input_shape'?)",
        ),
        (
            "scan:\n  - model: nets.py:f\n    expect:\n      a: {weight_matrix_rescal: invariant}\n",
            "zoo.invcheck.yaml:4: unknown key 'weight_matrix_rescal' in expect 'a' (did you mean 'weight_matrix_rescale'?)",
        ),
        (
            "scan:\n  - model: nets.py:f\n    expect:\n      a: {weight_matrix_rescale: invarient}\n",
            "zoo.invcheck.yaml:4: unknown verdict 'invarient'",
        ),
        (
            "scan:\n  - model: nets.py:f\n    expect:\n      a: invariant\n",
            "zoo.invcheck.yaml:4: expect 'a' must be a mapping {transform: verdict}, got 'invariant'",
        ),
        (
            "scan:\n  - expect: {a: {weight_matrix_rescale: invariant}}\n",
            "zoo.invcheck.yaml:2: scan entry has no model",
        ),
        ("scan:\n  - model: nets.py:f\n", "zoo.invcheck.yaml:2: scan entry has no expect"),
        (
            "scan:\n  - model: nets\n    expect: {a: {weight_matrix_rescale: invariant}}\n",
            "zoo.invcheck.yaml:2: model 'nets' names no factory",
        ),
        (
            "scan:\n  - model: nets.py:f\n    input_shape: [0, 3]\n    expect: {a: {weight_matrix_rescale: invariant}}\n",
            "zoo.invcheck.yaml:3: input_shape must be an integer in [1, 1000000], got 0",
        ),
        ("scan: []\n", "zoo.invcheck.yaml:1: scan must be a scan entry or a non-empty list of them"),
        ("scan:\n  - nets.py:f\n", "zoo.invcheck.yaml:2: a scan entry must be a mapping, got 'nets.py:f'"),
    ],
)
def test_a_bad_entry_is_one_line_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        spec.load_file("zoo.invcheck.yaml")  # `invcheck run` and `validate` read it so: exit 2
    assert str(err.value).startswith(message)


def test_a_scan_on_stdin_is_refused() -> None:
    with pytest.raises(SpecError, match="scan entries are read from spec files, not stdin"):
        spec.load_text(GOOD, "<stdin>")


# Judging a report --------------------------------------------------------------------------------


def _entry(*expect: tuple[str, str, str]) -> scan_spec.ScanEntry:
    rows = tuple(scan_spec.Expectation(g, t, v, 10 + i) for i, (g, t, v) in enumerate(expect))
    return scan_spec.ScanEntry(model="m.py:f", expect=rows, file="zoo.yaml", line=2)


_REPORT = report(
    {
        "layer1.0.conv1.weight": ((4, 4, 3, 3), "layer1.0.conv1", "Conv2d", (INV, INV, NOT)),
        "layer1.0.conv2.weight": ((4, 4, 3, 3), "layer1.0.conv2", "Conv2d", (NOT, NOT, NOT)),
        "fc.weight": ((2, 4), "fc", "Linear", (NOT, NOT, NOT)),
    }
)


def test_a_glob_crosses_dots_and_every_tensor_it_matches_is_held_to_it() -> None:
    entry = _entry(
        ("layer*.conv*.weight", "weight_matrix_rescale", INV), ("fc.weight", "weight_matrix_rescale", NOT)
    )
    (miss,) = scan_spec.judge(entry, _REPORT)
    assert miss.startswith(
        "zoo.yaml:10: layer1.0.conv2.weight weight_matrix_rescale: expected invariant, got not_invariant"
    )


def test_all_expectations_met_is_no_mismatch() -> None:
    entry = _entry(("layer1.0.conv1.*", "weight_vector_rescale", INV), ("*", "weight_matrix_recenter", NOT))
    assert scan_spec.judge(entry, _REPORT) == []


def test_a_glob_that_matches_nothing_is_an_error_not_a_pass() -> None:
    entry = _entry(("layer*.bn*.weight", "weight_matrix_rescale", INV))
    with pytest.raises(
        SpecError, match=r"zoo.yaml:10: expect glob 'layer\*.bn\*.weight' matches no parameter"
    ):
        scan_spec.judge(entry, _REPORT)


def test_the_schema_takes_an_entry_and_refuses_a_bad_one(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from invcheck.schema import spec_schema

    validator = jsonschema.Draft202012Validator(spec_schema())
    assert not list(validator.iter_errors(yaml.safe_load(GOOD)))
    bad = yaml.safe_load(GOOD.replace("mode: train", "mode: training"))
    assert list(validator.iter_errors(bad))
    bad = yaml.safe_load(GOOD.replace("weight_vector_rescale: invariant", "weight_vector_rescale: yes"))
    assert list(validator.iter_errors(bad))


# Loading the factory -----------------------------------------------------------------------------


def _factory_entry(tmp_path: Path, model: str) -> scan_spec.ScanEntry:
    path = _write(tmp_path, GOOD.replace("nets.py:bn_net", model))
    return scan_spec.load_file(path)[0]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("nets.py:missing", "model 'nets.py:missing': 'nets.py' has no attribute 'missing'"),
        ("absent.py:f", "model 'absent.py:f': no file absent.py"),
        ("no_such_pkg_xyz.mod:f", "no module named 'no_such_pkg_xyz'"),
        ("nets.py:broken", "the factory raised RuntimeError: no weights here (at "),
        ("nets.py:not_a_model", "the factory returned a int, not a torch.nn.Module"),
    ],
)
def test_a_factory_that_cannot_build_is_one_line(tmp_path: Path, model: str, message: str) -> None:
    pytest.importorskip("torch")
    from invcheck.errors import UserCodeError

    entry = _factory_entry(tmp_path, model)
    with pytest.raises(UserCodeError) as err:
        scan_spec.build(entry)
    assert message in str(err.value) and str(err.value).startswith(f"{entry.file}:2: ")


def test_a_factory_that_hangs_ends_at_its_deadline_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from invcheck.errors import UserCodeError
    from invcheck.impls import user_load

    entry = _factory_entry(tmp_path, "nets.py:slow")
    saved = dict(user_load._timeout)
    user_load.set_timeout(0.5, "--timeout SECONDS")
    try:
        with pytest.raises(UserCodeError) as err:
            scan_spec.build(entry)
    finally:
        user_load._timeout.update(saved)
    assert str(err.value) == (
        f"{entry.file}:2: module 'nets.py:slow': did not finish within 0.5 s (allow more with --timeout SECONDS)"
    )


# Running: invcheck run and pytest ------------------------------------------------------------------


def _invcheck(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    from invcheck.cli import main

    monkeypatch.setattr(sys, "argv", ["invcheck", *args])
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main() wraps it; put back afterwards
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


FAILING = """\
scan:
  - model: nets.py:bn_net
    mode: train
    expect:
      "3.weight": {weight_matrix_rescale: invariant}
"""


def test_invcheck_run_refuses_the_import_passes_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("invcheck.scan.engine")
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, GOOD)
    code, _, err = _invcheck(monkeypatch, capsys, "run", "zoo.invcheck.yaml")
    assert (
        code == 2 and "zoo.invcheck.yaml:2: scan model 'nets.py:bn_net' would import and run user code" in err
    )
    code, out, _ = _invcheck(monkeypatch, capsys, "run", "--allow-import", "zoo.invcheck.yaml")
    assert code == 0 and "PASS  scan bn net: 3 expectation(s) held on 5 tensors" in out
    assert "scans: 1 passed, 0 failed, 0 could not run" in out
    _write(tmp_path, FAILING, "bad.invcheck.yaml")
    code, out, _ = _invcheck(monkeypatch, capsys, "run", "--allow-import", "bad.invcheck.yaml")
    assert (
        code == 1
        and "bad.invcheck.yaml:5: 3.weight weight_matrix_rescale: expected invariant, got not_invariant"
        in out
    )
    _write(tmp_path, FAILING.replace('"3.weight"', '"head.*"'), "none.invcheck.yaml")
    code, out, _ = _invcheck(monkeypatch, capsys, "run", "--allow-import", "none.invcheck.yaml")
    assert code == 2 and "none.invcheck.yaml:5: expect glob 'head.*' matches no parameter" in out


def test_pytest_makes_one_item_per_entry(pytester: pytest.Pytester) -> None:
    pytest.importorskip("invcheck.scan.engine")
    (pytester.path / "nets.py").write_text(NETS)
    text = (
        GOOD
        + FAILING.replace("scan:\n", "")
        + FAILING.replace("scan:\n", "").replace('"3.weight"', '"head.*"')
    )
    pytester.makefile(".invcheck.yaml", zoo=text)
    refused = pytester.runpytest("-p", "no:cacheprovider")
    refused.assert_outcomes(errors=3)
    result = pytester.runpytest("-p", "no:cacheprovider", "--invcheck-allow-import", "-v")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*zoo.invcheck.yaml::scan: bn net PASSED*", "*expect glob 'head.*' matches no parameter*"]
    )


def test_the_shipped_ci_example_holds() -> None:
    pytest.importorskip("invcheck.scan.engine")
    example = Path(__file__).resolve().parents[2] / "examples" / "scan_ci.yaml"
    outcomes = [scan_spec.run_entry(entry) for entry in scan_spec.load_file(example)]
    assert len(outcomes) == 3 and all(o.passed for o in outcomes), [o.line() for o in outcomes]


def test_invcheck_run_junit_holds_the_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("invcheck.scan.engine")
    import xml.etree.ElementTree as ET

    monkeypatch.chdir(tmp_path)
    text = "checks:\n  - {norm: layer_norm, transform: dataset_rescale, expect: invariant}\n" + GOOD
    text += FAILING.replace("scan:\n", "") + FAILING.replace("scan:\n", "").replace('"3.weight"', '"head.*"')
    _write(tmp_path, text)
    code, _, _ = _invcheck(
        monkeypatch, capsys, "run", "--allow-import", "--junit-xml", "r.xml", "zoo.invcheck.yaml"
    )
    assert code == 2
    root = ET.parse(tmp_path / "r.xml").getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    assert root.get("tests") == "4"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {
        "dense/layer_norm/dataset_rescale",
        "scan: bn net",
        "scan: nets.py:bn_net (train)",
        "scan: nets.py:bn_net (train)@15",
    }
    assert cases["scan: bn net"].get("classname") == "zoo.invcheck.yaml"
    failure = cases["scan: nets.py:bn_net (train)"].find("failure")
    assert failure is not None and "3.weight weight_matrix_rescale: expected invariant" in failure.text
    error = cases["scan: nets.py:bn_net (train)@15"].find("error")
    assert error is not None and "matches no parameter" in error.get("message")


def test_invcheck_run_json_holds_the_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("invcheck.scan.engine")
    import json

    monkeypatch.chdir(tmp_path)
    _write(tmp_path, GOOD + FAILING.replace("scan:\n", ""))
    code, out, err = _invcheck(
        monkeypatch, capsys, "run", "--allow-import", "--format", "json", "zoo.invcheck.yaml"
    )
    assert code == 1
    doc = json.loads(out)  # stdout stays JSON: the scan lines went to stderr
    assert [s["status"] for s in doc["scans"]] == ["passed", "failed"]
    assert doc["scans"][1]["mismatches"][0].startswith("zoo.invcheck.yaml:12: 3.weight weight_matrix_rescale")
    assert (
        doc["scans"][0]["report"]["schema_version"] == 1 and doc["scans"][0]["spec"] == "zoo.invcheck.yaml:2"
    )
    assert "FAIL  scan nets.py:bn_net (train)" in err


def test_invcheck_validate_counts_the_scans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, GOOD + FAILING.replace("scan:\n", ""))
    code, out, _ = _invcheck(monkeypatch, capsys, "validate", "zoo.invcheck.yaml")
    assert code == 0 and out == "0 checks and 2 scans in 1 file: valid\n"
