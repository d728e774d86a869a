"""`invcheck scan` in-process: JSON that parses, exit codes, one-line errors, files written whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke

pytest.importorskip("torch")

RESNET = "examples/scan_resnet.py:build"


SMALL = ["--kwargs", '{"batch": 4, "size": 8, "width": 4}']


def test_json_report(invoke: Invoke) -> None:
    r = invoke("scan", RESNET, "--allow-import", *SMALL, "--mode", "train", "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema_version"] == 1 and data["mode"] == "train" and data["model"] == RESNET
    by = {(p["name"], p["transform"]): p for p in data["parameters"]}
    assert by[("layer1.0.conv1.weight", "weight_matrix_rescale")]["verdict"] == "invariant"
    assert by[("layer1.0.conv1.weight", "weight_matrix_rescale")]["via"] == (
        "layer1.0.bn1 (BatchNorm2d, batch statistics)"
    )
    assert by[("conv1.bias", "weight_matrix_recenter")]["verdict"] == "invariant"
    assert by[("fc.weight", "weight_matrix_rescale")]["verdict"] == "not_invariant"
    assert len(data["parameters"]) == 3 * 27


def test_text_report_to_a_file(tmp_path: Path, invoke: Invoke) -> None:
    target = tmp_path / "scan.txt"
    r = invoke("scan", RESNET, "--allow-import", *SMALL, "-o", str(target))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    text = target.read_text()
    assert "layer1.0.conv1" in text and "matrix rescale" in text and "✗" in text
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([RESNET], "pass --allow-import"),
        (["examples/nope.py:build", "--allow-import"], "no file"),
        (["examples/scan_resnet.py:buld", "--allow-import"], "has no attribute 'buld'"),
        ([RESNET, "--allow-import", "--kwargs", '{"nope": 1}'], "unexpected keyword argument"),
        ([RESNET, "--allow-import", "--kwargs", "[1]"], "must be a JSON object"),
        ([RESNET, "--allow-import", *SMALL, "--output", "logits"], "no field 'logits'"),
        (["examples/scan_resnet.py", "--allow-import"], "names no factory"),
        (["no_such_module_xyz:build", "--allow-import"], "no module named"),
        (["examples/scan_resnet.py:SmallResNet", "--allow-import", "--input-shape", "2,x"], "--input-shape"),
        (  # 40 TB: bounded before it is drawn
            ["examples/scan_prenorm.py:PreLNBlock", "--allow-import", "--input-shape", "100000,100000,1000"],
            "needs about 8e+04 GB of memory",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, invoke: Invoke) -> None:
    r = invoke("scan", *args)
    assert r.exit_code == 2
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_factory_returning_a_model_alone_with_an_input_shape(invoke: Invoke) -> None:
    args = [
        "scan",
        "examples/scan_prenorm.py:PreLNBlock",
        "--allow-import",
        "--kwargs",
        '{"dim": 8, "heads": 2, "hidden": 16}',
    ]
    r = invoke(*args, "-f", "json")
    assert r.exit_code == 2 and "input shape" in r.stderr
    r = invoke(*args, "--input-shape", "2,3,8", "-f", "json")
    assert r.exit_code == 0, r.stderr
    by = {(p["name"], p["transform"]): p["verdict"] for p in json.loads(r.stdout)["parameters"]}
    assert by[("attn.k_proj.bias", "weight_matrix_recenter")] == "invariant"
