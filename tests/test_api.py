"""The Python API: check() builds and validates, invariance_error measures, the asserts judge."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import invcheck
from invcheck.api import assert_invariant, assert_not_invariant, check, explain, import_path, invariance_error
from invcheck.errors import InvarianceError, SpecError
from invcheck.measure import measure
from invcheck.settings import CheckConfig


class ModuleLevelNorm(torch.nn.Module):
    """Only its import path matters here; nothing is built."""


def test_import_invcheck_does_not_import_torch() -> None:
    code = "import invcheck, invcheck.api, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_package_attributes() -> None:
    assert invcheck.assert_invariant is assert_invariant
    assert invcheck.invariance_error is invariance_error


def test_check_routes_options_to_their_section() -> None:
    c = check(
        "group_norm",
        "dataset_recenter",
        "conv",
        groups=4,
        shift=2.0,
        out_channels=8,
        trials=3,
        dtype="float32",
        eps=1e-5,
        tf32=True,
        device="auto",
        expect="invariant",
    )
    assert (c.norm.id, c.norm.groups, c.norm.eps) == ("group_norm", 4, 1e-5)
    assert (c.transform.id, c.transform.shift) == ("dataset_recenter", 2.0)
    assert (c.layer.kind, c.layer.out_channels) == ("conv", 8)
    assert (c.trials, c.dtype, c.tf32, c.expect, c.file) == (3, "float32", True, "invariant", None)
    assert check() == CheckConfig()  # the defaults are the table's


def test_check_user_code() -> None:
    by_path = check("mypkg.norms:MyNorm", kwargs={"features": "{units}"}, role="layer", weight="w")
    assert (by_path.norm.module, by_path.norm.id, by_path.norm.role) == (
        "mypkg.norms:MyNorm",
        "custom",
        "layer",
    )
    by_class = check(ModuleLevelNorm)
    assert by_class.norm.module == f"{__name__}:ModuleLevelNorm"
    hinted = check("rms_norm", module="mypkg.norms:MyNorm")  # the id: which statistics it computes
    assert (hinted.norm.id, hinted.norm.module) == ("rms_norm", "mypkg.norms:MyNorm")


def test_objects_that_cannot_be_imported_are_held_as_they_are() -> None:
    with pytest.raises(TypeError, match="not a class or factory"):
        import_path(ModuleLevelNorm())

    class Local(torch.nn.Module):
        pass

    held = check(Local)  # no import path: the class itself is kept (tests/test_api_objects.py)
    assert held.norm.obj.value is Local and held.norm.obj.how == "factory"
    with pytest.raises(TypeError, match="not both"):
        check(ModuleLevelNorm, module="a:B")
    # eps of user code is read from it; where it cannot be, the spec (or the API) states it
    assert check(ModuleLevelNorm, eps=1e-5).norm.eps == 1e-5


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(TypeError, match="'gropus': did you mean 'groups'"):
        check("group_norm", gropus=4)
    with pytest.raises(TypeError, match="kwargs apply only to user code"):
        check("layer_norm", kwargs={"features": 3})
    with pytest.raises(
        SpecError,
        match=r"^invcheck\.api\.check\(\): unknown norm 'layr_norm' \(did you mean 'layer_norm'\?\)$",
    ):
        check("layr_norm")
    with pytest.raises(SpecError, match="groups 3 does not divide"):
        check("group_norm", groups=3)
    with pytest.raises(SpecError, match=r"eps must be a number in \[0, 1000\]"):
        check(eps=-1.0)


def test_invariance_error_returns_numbers_and_never_raises_on_the_math() -> None:
    kept = invariance_error("layer_norm", "dataset_rescale")
    assert kept.verdict == "invariant" and kept.deviation <= kept.tolerance and kept.bound == "rounding"
    broken = invariance_error("layer_norm", "dataset_recenter")
    assert broken.verdict == "not_invariant" and broken.deviation > 1e6 * broken.tolerance
    assert invariance_error("instance_norm", "dataset_rescale", "dense").verdict == "undefined"


def test_a_check_config_with_changes() -> None:
    base = check("layer_norm", "dataset_rescale", trials=2)
    assert invariance_error(base).check is base
    changed = invariance_error(base, transform="dataset_recenter", dtype="float32")
    assert (changed.check.transform.id, changed.check.dtype, changed.check.trials) == (
        "dataset_recenter",
        "float32",
        2,
    )
    with pytest.raises(TypeError, match="by keyword"):
        invariance_error(base, "dataset_recenter")


def test_asserts_pass_and_return_the_result() -> None:
    assert assert_invariant("rms_norm", "case_rescale", trials=2).verdict == "invariant"
    assert assert_not_invariant("rms_norm", "dataset_recenter", trials=2).verdict == "not_invariant"


def test_assert_failure_carries_the_evidence() -> None:
    with pytest.raises(InvarianceError) as info:
        assert_invariant("layer_norm", "dataset_recenter")
    assert isinstance(info.value, AssertionError)
    result, message = info.value.result, str(info.value)
    lines = message.splitlines()
    assert lines[0] == "dense/layer_norm/dataset_recenter: expected invariant, got not_invariant"
    assert f"deviation {result.deviation:.3g} > tolerance {result.tolerance:.3g}" in lines[1]
    assert "float64 run; bound: rounding" in lines[1] and lines[2].startswith(
        "  why: float64 run: 5 x its measured"
    )
    where = result.where
    assert f"worst: trial {where['trial']}, case {where['case']}, unit {where['unit']}" in message
    assert "float64 on cpu, 8 trials, seed 0" in message and "spec:" not in message


def test_undefined_fails_both_asserts() -> None:
    for assertion in (assert_invariant, assert_not_invariant):
        with pytest.raises(InvarianceError, match="got undefined") as info:
            assertion("instance_norm", "dataset_rescale", "dense")
        assert "neither invariant nor not_invariant" in str(info.value)
        assert "instance_norm needs positions" in str(info.value)


def test_inconclusive_fails_both_asserts() -> None:
    # An explicit tolerance between the deviation and 1/MARGIN of it puts the check in between.
    deviation = max(measure(check("layer_norm", "dataset_rescale", dtype="float32")).checked.deviation)
    for assertion in (assert_invariant, assert_not_invariant):
        with pytest.raises(InvarianceError, match="got inconclusive") as info:
            assertion("layer_norm", "dataset_rescale", dtype="float32", tolerance=deviation / 1.25)
        assert "bound: override" in str(info.value)
        assert "inconclusive: above the tolerance but not far beyond it" in str(info.value)


def test_evidence_names_the_spec_line() -> None:
    result = invariance_error(check("layer_norm", "dataset_recenter").with_(file="specs/x.yaml", line=12))
    assert explain(result).splitlines()[0] == "dense/layer_norm/dataset_recenter: not_invariant"
    assert explain(result, "invariant").splitlines()[-1] == "  spec: specs/x.yaml:12"


@pytest.mark.slow
def test_set_timeout_is_the_deadline_of_user_code_and_its_message_names_it(tmp_path) -> None:
    """In a fresh process: user code past the deadline is one UserCodeError that says how to allow
    more, in the words of whoever set the deadline (nobody: every place that can)."""
    (tmp_path / "slownorm.py").write_text(
        "import time, torch\n"
        "class Slow(torch.nn.Module):\n"
        "    def __init__(self, features):\n        super().__init__()\n        self.features = features\n"
        "    def forward(self, x):\n        time.sleep(0.5)\n        return torch.nn.functional.layer_norm(x, (self.features,))\n"
    )
    code = (
        "import invcheck\nfrom invcheck.errors import UserCodeError, SpecError\n"
        "import invcheck.impls.user_load as ul\nul._timeout['seconds'] = 0.2\n"
        "def slow():\n"
        "    try:\n        invcheck.assert_invariant('slownorm:Slow', 'dataset_rescale', kwargs={'features': '{units}'}, trials=2)\n"
        "    except UserCodeError as err:\n        print(err)\n"
        "slow()\ninvcheck.set_timeout(0.3)\nslow()\n"
        "for bad in (0, 1e-6, float('nan'), '5', True, 1e9):\n"
        "    try:\n        invcheck.set_timeout(bad)\n    except SpecError as err:\n        print(err)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "did not finish within 0.2 s" in lines[0] and "invcheck.set_timeout(seconds)" in lines[0]
    assert "--timeout SECONDS (invcheck run, table)" in lines[0] and "--invcheck-timeout" in lines[0]
    assert lines[1].endswith("did not finish within 0.3 s (allow more with invcheck.set_timeout(seconds))")
    assert len(lines) == 8 and all(
        "timeout must be a number of seconds in [0.1, 86400]" in line for line in lines[2:]
    )


def test_the_assertions_take_no_expect() -> None:
    for assertion in (assert_invariant, assert_not_invariant):
        with pytest.raises(TypeError, match="takes no expect="):
            assertion("layer_norm", "dataset_rescale", trials=2, expect="invariant")
