"""PyTorch's own layers, given as user code, in the layer kinds beyond the paper: the verdicts of
the built-in norm whose statistics they take (which the reference derivations in
tests/test_layer_tables.py and tests/test_measure.py fix)."""

from __future__ import annotations

import pytest

from invcheck.api import check
from invcheck.runner import run_check
from tests.derived_rows import transforms


def row(kind: str, **options: object) -> list[str]:
    return [run_check(check(transform=t, layer=kind, trials=4, **options)).verdict for t in transforms(kind)]


def builtin(norm: str, kind: str, **layer: object) -> list[str]:
    return row(kind, norm=norm, **layer)


@pytest.mark.fast_set(dtype="float32")  # float64: slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "module, norm", [("torch.nn:LayerNorm", "layer_norm"), ("torch.nn:RMSNorm", "rms_norm")]
)
def test_torch_token_norms_on_a_sequence_layer(module: str, norm: str, dtype: str) -> None:
    """nn.LayerNorm(H) / nn.RMSNorm(H) on [N, S, H], as in every transformer: per token."""
    got = row("sequence", module=module, kwargs={"normalized_shape": "{units}"}, dtype=dtype)
    assert got == builtin(norm, "sequence")


def test_layer_norm_over_channels_in_a_channels_last_conv() -> None:
    """nn.LayerNorm(C) on [N, S', S', C] (ConvNeXt-style): statistics over the channels per position."""
    got = row(
        "conv", module="torch.nn:LayerNorm", kwargs={"normalized_shape": "{channels}"}, layout="channels_last"
    )
    assert got == builtin("layer_norm_2d", "conv")
    assert (
        got[1] == "invariant"
    )  # keeps weight-matrix re-centering, which a whole-case layer_norm loses in conv


@pytest.mark.parametrize(
    "module, norm", [("torch.nn:BatchNorm1d", "batch_norm"), ("torch.nn:InstanceNorm1d", "instance_norm")]
)
def test_torch_1d_norms_on_a_conv1d_layer(module: str, norm: str) -> None:
    kwargs = {"num_features": "{channels}"} | ({"affine": True} if "Instance" in module else {})
    assert row("conv1d", module=module, kwargs=kwargs) == builtin(norm, "conv1d")


def test_eval_mode_batch_norm_1d_loses_its_data_invariances() -> None:
    got = run_check(
        check(
            transform="dataset_rescale",
            layer="conv1d",
            module="torch.nn:BatchNorm1d",
            kwargs={"num_features": "{channels}"},
            mode="eval",
        )
    )
    assert got.verdict == "not_invariant"
