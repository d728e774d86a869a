"""The API takes what users hold: module instances, lambdas, partials, local classes; None refused."""

from __future__ import annotations

import copy
import functools
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import invcheck
from invcheck.api import assert_invariant, assert_not_invariant, check, invariance_error, layer_row
from invcheck.errors import InvarianceError, UserCodeError
from tests.derived_rows import same_rows


def rms(a: torch.Tensor) -> torch.Tensor:  # a module-level callable a -> y
    return a / a.square().mean(1, keepdim=True).sqrt()


# Module instances ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "verdict"),
    [
        ("dataset_rescale", "invariant"),
        ("case_rescale", "invariant"),
        ("weight_matrix_recenter", "invariant"),
        ("dataset_recenter", "not_invariant"),
        ("weight_vector_rescale", "not_invariant"),
    ],
)
def test_a_layer_norm_instance_gets_layer_norms_verdicts(transform: str, verdict: str) -> None:
    ln = nn.LayerNorm(16)
    assert invariance_error(ln, transform).verdict == verdict
    assert invariance_error("layer_norm", transform, impl="torch").verdict == verdict


def test_an_instance_is_used_as_it_is_and_never_modified() -> None:
    ln = nn.LayerNorm(24, eps=2e-6)  # float32 parameters, its own eps, its own size
    with torch.no_grad():
        ln.weight.mul_(3.0)
    before = copy.deepcopy(ln.state_dict())
    result = assert_invariant(ln, "dataset_rescale")
    assert result.check.layer.units == 24  # the layer's units: the instance's own size
    assert "eps 2e-06" in result.why  # its own eps, read from it (and switched off in a copy)
    assert ln.eps == 2e-6 and ln.training and ln.weight.dtype == torch.float32
    assert all(torch.equal(before[k], v) for k, v in ln.state_dict().items())


def test_an_instance_in_eval_mode_is_checked_in_eval_mode() -> None:
    bn = nn.BatchNorm1d(16)
    assert check(bn).norm.mode == "train"
    assert_invariant(bn, "dataset_rescale")
    bn.eval()
    assert check(bn).norm.mode == "eval"
    assert_not_invariant(bn, "dataset_rescale")
    assert not bn.training and int(bn.num_batches_tracked) == 0  # the warm-up ran in copies


def test_instances_in_a_conv_layer() -> None:
    assert_invariant(nn.GroupNorm(2, 8), "dataset_rescale", "conv")
    assert_not_invariant(nn.InstanceNorm2d(8), "dataset_recenter", "conv", padding=1)


# Callables a -> y ----------------------------------------------------------------------------------


def test_a_lambda_is_a_norm() -> None:
    norm = lambda a: a / a.square().mean(1, keepdim=True).sqrt()  # noqa: E731
    assert_invariant(norm, "dataset_rescale")
    assert_invariant(norm, "weight_matrix_rescale")
    assert_not_invariant(norm, "dataset_recenter")
    assert check(norm).norm.module.startswith("<lambda> (test_api_objects.py:")


def test_a_module_level_function_is_a_norm_by_its_import_path() -> None:
    c = check(rms)
    assert c.norm.module == f"{__name__}:rms" and c.norm.obj.how == "norm"
    assert_invariant(rms, "case_rescale")


def test_a_partial_is_a_norm_whose_eps_keyword_is_read_and_switched_off() -> None:
    ln = functools.partial(F.layer_norm, normalized_shape=(16,))  # eps: F.layer_norm's default 1e-5
    result = assert_invariant(ln, "dataset_rescale")
    assert "eps 1e-05" in result.why and "eps's effect" in result.why
    assert_not_invariant(ln, "dataset_recenter")
    assert ln.keywords == {"normalized_shape": (16,)}  # the caller's partial untouched
    # in float32 too, with F.rms_norm's eps None (torch's default for the dtype)
    assert_invariant(functools.partial(F.rms_norm, normalized_shape=[16]), "dataset_rescale", dtype="float32")


def test_a_factory_and_a_local_class_are_built_with_kwargs() -> None:
    class Local(nn.Module):
        def __init__(self, features: int) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(features, eps=0.0)

        def forward(self, a: torch.Tensor) -> torch.Tensor:
            return self.norm(a)

    assert_invariant(Local, "dataset_rescale", kwargs={"features": "{units}"})
    assert_invariant(lambda: nn.LayerNorm(16), "dataset_rescale")  # no argument: a factory
    assert_not_invariant(
        Local, "dataset_recenter", "conv", kwargs={"features": "{channels}"}, layout="channels_last"
    )


def test_objects_that_cannot_run_say_so_in_one_line() -> None:
    with pytest.raises(UserCodeError, match=r"returned shape \[16, 8\], expected \[16, 16\]"):
        invariance_error(lambda a: a[:, :8], "dataset_rescale")
    with pytest.raises(UserCodeError, match=r"LayerNorm.*Given normalized_shape"):
        invariance_error(nn.LayerNorm(8), "dataset_rescale", units=16)  # the call's size wins
    with pytest.raises(TypeError, match="kwargs apply to a class or factory"):
        check(nn.LayerNorm(8), kwargs={"eps": 0.0})


def test_layer_row_takes_instances_and_callables() -> None:
    report = layer_row(nn.LayerNorm(8), layers=("dense",), trials=4)
    # every built-in norm whose hand-derived dense row is layer_norm's (layer_norm, group_norm today)
    like = "behaves like: " + ", ".join(same_rows("dense", "layer_norm"))
    assert list(report.meta["behaves_like"]["dense"].values()) == [like]
    report = layer_row(rms, layers=("dense",), trials=4)
    like = "behaves like: " + ", ".join(same_rows("dense", "rms_norm"))  # rms_norm, scale_norm
    assert report.meta["behaves_like"]["dense"][f"{__name__}:rms"] == like


# None, and objects that cannot travel ---------------------------------------------------------------


@pytest.mark.parametrize("argument", ["norm", "transform", "layer"])
def test_none_is_a_type_error_naming_the_argument(argument: str) -> None:
    args = {"norm": "layer_norm", "transform": "dataset_rescale", "layer": "dense", argument: None}
    with pytest.raises(TypeError, match=f"^{argument} is None: give"):
        check(**args)
    with pytest.raises(TypeError, match=f"^{argument} is None"):
        assert_invariant(**args)
    with pytest.raises(TypeError, match=f"^{argument} is None"):
        assert_not_invariant(**args)
    with pytest.raises(TypeError, match=f"^{argument} is None"):
        invariance_error(check(), **{argument: None})


def test_none_as_a_positional_norm_is_refused_and_omitting_it_still_means_layer_norm() -> None:
    with pytest.raises(TypeError, match="norm is None"):
        assert_invariant(None, "dataset_rescale")
    with pytest.raises(TypeError, match="layer_row takes user code"):
        layer_row("layer_norm")
    assert check(transform="dataset_rescale").norm.id == "layer_norm"


def test_an_object_cannot_travel_to_workers_and_says_so_in_one_line() -> None:
    held = check(lambda a: a)
    with pytest.raises(TypeError, match=r"cannot travel to --jobs worker processes"):
        pickle.dumps(held)
    assert pickle.loads(pickle.dumps(check("layer_norm"))) == check("layer_norm")
    assert copy.deepcopy(held).norm.obj is held.norm.obj  # copies keep the object itself


# Assertions, the package --------------------------------------------------------------------------------


def test_a_failed_assertion_hides_invcheck_frames_from_pytest() -> None:
    with pytest.raises(InvarianceError) as info:
        assert_invariant(nn.LayerNorm(16), "dataset_recenter")
    api_frames = [
        entry
        for entry in info.traceback
        if Path(str(entry.path)).name == "api.py" and "invcheck" in str(entry.path)
    ]
    assert api_frames and all(entry.ishidden(info) for entry in api_frames)
    assert "expected invariant, got not_invariant" in str(info.value)


def test_the_package_lists_its_public_api_lazily() -> None:
    assert {"assert_invariant", "assert_not_invariant", "invariance_error", "layer_row"} <= set(dir(invcheck))
    assert set(dir(invcheck)) == set(invcheck.__all__)
    for name in invcheck.__all__:
        assert getattr(invcheck, name) is not None
    assert (Path(invcheck.__file__).parent / "py.typed").is_file()


def test_import_invcheck_stays_torch_free() -> None:  # a fresh process is the point
    code = "import sys, invcheck; dir(invcheck); invcheck.SpecError; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "transform", ["dataset_rescale", "case_rescale", "dataset_recenter", "weight_vector_rescale"]
)
def test_the_eps_a_lambda_passes_to_torchs_norm_functions_is_read_and_switched_off(transform: str) -> None:
    mine = invariance_error(lambda a: F.group_norm(a, 2), transform, "conv", trials=4)  # eps 1e-5 inside
    builtin = invariance_error("group_norm", transform, "conv", eps=1e-5, trials=4)
    assert mine.verdict == builtin.verdict
    assert "eps 1e-05 (read from its call to torch's group_norm)" in mine.why
    dense = invariance_error(lambda a: F.layer_norm(a, a.shape[-1:]), transform, trials=4)
    assert dense.verdict == invariance_error("layer_norm", transform, eps=1e-5, trials=4).verdict


def test_an_eps_that_breaks_the_invariance_is_still_seen_in_a_lambda() -> None:
    """eps read from the lambda's call is measured: reported as a qualifier, failing past a set bound."""
    big_eps = lambda a: F.layer_norm(a, a.shape[-1:], eps=0.1)  # noqa: E731
    result = invariance_error(big_eps, "dataset_rescale")
    assert (
        result.verdict == "invariant" and "invariant up to eps: eps moves the two sides apart" in result.why
    )
    bounded = invariance_error(big_eps, "dataset_rescale", max_eps_effect=0.01)
    assert (
        bounded.verdict == "not_invariant" and "eps does not blur the invariance, it breaks it" in bounded.why
    )
