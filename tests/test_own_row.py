"""Your own layer's row (table --module, api.layer_row): beside the built-in rows, with the row it matches."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from invcheck import api
from tests.derived_rows import same_rows

if TYPE_CHECKING:
    from conftest import Invoke

MODULE = '''
import torch
from torch import nn


class DenseOnlyLayerNorm(nn.Module):
    """A LayerNorm that only takes [N, H]: it refuses conv's [N, C, S, S]."""

    def forward(self, a):
        assert a.dim() == 2, "this norm takes [N, H]"
        mu = a.mean(-1, keepdim=True)
        return (a - mu) / ((a - mu) ** 2).mean(-1, keepdim=True).sqrt()


class NoNorm(nn.Module):
    """Divides by one scale for the whole batch (invariant to the global re-scalings only): like no
    built-in norm (a map invariant to nothing, as 2 * a, now behaves like dyt)."""

    def forward(self, a):
        return a / a.abs().mean()
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("own")
    (folder / "own_row_t.py").write_text(textwrap.dedent(MODULE))
    sys.path.insert(0, str(folder))
    yield "own_row_t"
    sys.path.remove(str(folder))


def test_row_beside_the_builtin_rows_and_what_it_matches(mod: str) -> None:
    report = api.layer_row(f"{mod}:DenseOnlyLayerNorm", layers=("dense", "conv"), trials=4)
    # in a dense layer group_norm computes over a subset of the units: the same verdicts as layer_norm
    like = "behaves like: " + ", ".join(same_rows("dense", "layer_norm"))  # layer_norm, group_norm
    assert report.meta["behaves_like"]["dense"] == {f"{mod}:DenseOnlyLayerNorm": like}
    assert "conv" in report.meta["not_accepted"] and "[N, H]" in report.meta["not_accepted"]["conv"]
    labels = report.norms("dense")
    assert labels[-1] == f"{mod}:DenseOnlyLayerNorm" and "layer_norm" in labels


def test_like_no_builtin_norm(mod: str) -> None:
    report = api.layer_row(f"{mod}:NoNorm", layers=("dense",), trials=4)
    assert report.meta["behaves_like"]["dense"][f"{mod}:NoNorm"] == "like no built-in norm"


def test_running_statistics_get_an_eval_row() -> None:
    report = api.layer_row(
        "torch.nn:BatchNorm1d", kwargs={"num_features": "{channels}"}, layers=("dense",), trials=4
    )
    rows = report.meta["behaves_like"]["dense"]
    assert rows["torch.nn:BatchNorm1d"] == "behaves like: batch_norm"
    assert rows["torch.nn:BatchNorm1d (eval)"] == "behaves like: dyt"  # an affine map: invariant to nothing


def test_cli_needs_permission_and_prints_the_likeness(mod: str, tmp_path: Path, invoke: Invoke) -> None:
    folder = str(next(p for p in sys.path if Path(p, "own_row_t.py").exists()))
    args = ["table", "--layer", "dense", "--trials", "2", "--module", f"{mod}:NoNorm", "-f", "markdown"]
    refused = invoke(*args, cwd=folder)
    assert refused.returncode == 2 and "--allow-import" in refused.stderr
    ok = invoke(*args, "--allow-import", cwd=folder)
    assert ok.returncode == 0, ok.stderr
    assert f"`{mod}:NoNorm` like no built-in norm." in ok.stdout


def test_the_row_follows_placement_and_layout() -> None:
    report = api.layer_row(
        "torch.nn:LayerNorm",
        kwargs={"normalized_shape": "{channels}"},
        layers=("sequence",),
        placements=("input",),
        trials=4,
    )
    (section,) = report.meta["behaves_like"]
    assert "input" in section  # beside the built-in rows of the same placement
    assert "layer_norm" in report.meta["behaves_like"][section]["torch.nn:LayerNorm"]
    conv = api.layer_row(
        "torch.nn:LayerNorm",
        kwargs={"normalized_shape": "{channels}"},
        layers=("conv",),
        layout="channels_last",
        trials=4,
    )
    assert conv.meta["behaves_like"]["conv"]["torch.nn:LayerNorm"] == "behaves like: layer_norm_2d"


def test_kwargs_are_checked_against_the_kinds_asked_for() -> None:
    # `{kernel}` is a conv placeholder: fine for a conv-only row, refused where a dense row is asked for
    kwargs = {"num_groups": 2, "num_channels": "{channels}", "eps": "{kernel}"}
    report = api.layer_row("torch.nn:GroupNorm", kwargs=kwargs, layers=("conv",), trials=2)
    assert "torch.nn:GroupNorm" in report.meta["behaves_like"]["conv"]
    with pytest.raises(api.SpecError, match=r"unknown placeholder '\{kernel\}'"):
        api.layer_row("torch.nn:GroupNorm", kwargs=kwargs, layers=("dense", "conv"), trials=2)
