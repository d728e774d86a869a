"""`invcheck scan` in-process: JSON that parses, exit codes, one-line errors, files written whole."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from invcheck.cli import main

ROOT = Path(__file__).resolve().parents[2]
RESNET = "examples/scan_resnet.py:build"


def invcheck(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["invcheck", *args])
    saved = sys.stdout
    try:
        with pytest.raises(SystemExit) as ended:
            main()
    finally:
        sys.stdout = saved  # main() wraps it
    out = capsys.readouterr()
    return int(ended.value.code or 0), out.out, out.err


SMALL = ["--kwargs", '{"batch": 4, "size": 8, "width": 4}']


def test_json_report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = invcheck(
        ["scan", RESNET, "--allow-import", *SMALL, "--mode", "train", "-f", "json"], capsys, monkeypatch
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["mode"] == "train" and data["model"] == RESNET
    by = {(p["name"], p["transform"]): p for p in data["parameters"]}
    assert by[("layer1.0.conv1.weight", "weight_matrix_rescale")]["verdict"] == "invariant"
    assert by[("layer1.0.conv1.weight", "weight_matrix_rescale")]["via"] == (
        "layer1.0.bn1 (BatchNorm2d, batch statistics)"
    )
    assert by[("conv1.bias", "weight_matrix_recenter")]["verdict"] == "invariant"
    assert by[("fc.weight", "weight_matrix_rescale")]["verdict"] == "not_invariant"
    assert len(data["parameters"]) == 3 * 27


def test_text_report_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "scan.txt"
    code, out, err = invcheck(
        ["scan", RESNET, "--allow-import", *SMALL, "-o", str(target)], capsys, monkeypatch
    )
    assert code == 0, err
    assert out == ""
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
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = invcheck(["scan", *args], capsys, monkeypatch)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_factory_returning_a_model_alone_with_an_input_shape(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        "scan",
        "examples/scan_prenorm.py:PreLNBlock",
        "--allow-import",
        "--kwargs",
        '{"dim": 8, "heads": 2, "hidden": 16}',
    ]
    code, _, err = invcheck([*args, "-f", "json"], capsys, monkeypatch)
    assert code == 2 and "input shape" in err
    code, out, err = invcheck([*args, "--input-shape", "2,3,8", "-f", "json"], capsys, monkeypatch)
    assert code == 0, err
    by = {(p["name"], p["transform"]): p["verdict"] for p in json.loads(out)["parameters"]}
    assert by[("attn.k_proj.bias", "weight_matrix_recenter")] == "invariant"
