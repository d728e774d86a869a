"""One check at a time: what the norm sees in each placement, degenerate trials, user code, rules."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from invcheck import spec
from invcheck.draws import draw
from invcheck.errors import SpecError
from invcheck.impls import Draw
from invcheck.measure import measure
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig


def check(
    norm: str | NormConfig, transform: str, kind: str = "dense", placement: str = "summed", **sizes: int
) -> CheckConfig:
    cfg = norm if isinstance(norm, NormConfig) else NormConfig(id=norm)
    return CheckConfig(
        norm=cfg,
        transform=TransformConfig(id=transform),
        layer=LayerConfig(kind, placement=placement, **sizes),
    )


# What the norm sees -------------------------------------------------------------------------------


def _forward(c: CheckConfig) -> tuple[torch.Tensor, Draw]:
    from invcheck.impls import build_forward

    d = draw(c)
    return build_forward(c, d, torch.float64, torch.device("cpu"))(d.x, d.w), d


def _layer_norm(v: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    mu, var = v.mean(dims, keepdim=True), v.var(dims, correction=0, keepdim=True)
    return (v - mu) / var.sqrt()


def test_input_dense_is_norm_of_x_times_w() -> None:
    y, d = _forward(check("layer_norm", "dataset_rescale", placement="input"))
    assert d.g.shape == (8, 32)  # the gains are the input's D = 32 features, not the H = 16 units
    xn = _layer_norm(d.x, (2,)) * d.g[:, None] + d.b[:, None]  # [T, N, D]
    assert torch.allclose(y, xn @ d.w.transpose(-1, -2), atol=1e-12)


def test_input_sequence_normalizes_each_token_over_its_features() -> None:
    """A pre-norm transformer's LayerNorm: X [N, S, D] per token over D, then W."""
    y, d = _forward(check("layer_norm", "dataset_rescale", "sequence", placement="input"))
    xn = _layer_norm(d.x, (3,)) * d.g[:, None, None] + d.b[:, None, None]  # [T, N, S, D]
    assert torch.allclose(y, (xn @ d.w.unsqueeze(1).transpose(-1, -2)).transpose(-1, -2), atol=1e-12)


def test_input_conv_batch_norm_is_per_input_channel() -> None:
    y, d = _forward(check("batch_norm", "dataset_rescale", "conv", placement="input"))
    assert d.g.shape == (8, 4)  # C_in
    mu, var = d.x.mean((1, 3, 4), keepdim=True), d.x.var((1, 3, 4), correction=0, keepdim=True)
    xn = (d.x - mu) / var.sqrt() * d.g[:, None, :, None, None] + d.b[:, None, :, None, None]
    kind = LayerConfig("conv").kind_spec
    assert torch.allclose(y, kind.summed(LayerConfig("conv"), xn, d.w), atol=1e-12)


def test_post_activation_weight_norm_is_gain_times_relu_of_normalized_input() -> None:
    y, d = _forward(check("weight_norm", "dataset_rescale", placement="post_activation"))
    a = d.x @ d.w.transpose(-1, -2)
    expected = d.g[:, None] * torch.relu(a / d.w.norm(dim=-1)[:, None]) + d.b[:, None]
    assert torch.allclose(y, expected, atol=1e-12)


# Degenerate trials -----------------------------------------------------------------------------------

# Three cases per batch_norm unit: a ReLU zeroes all three often, more so with the data shifted.
FEW_CASES = {"cases": 3, "units": 4}


@pytest.mark.parametrize("transform", ["dataset_rescale", "dataset_recenter"])
def test_relu_zeroing_a_batch_norm_unit_leaves_out_its_entries(transform: str) -> None:
    """A unit whose ReLU is zero on every case is 0/0 there: its entries are left out, the trial
    counts with the others (it used to be left out whole; whether a trial was left then flipped
    the verdict with the seed)."""
    c = replace(check("batch_norm", transform, placement="post_activation", **FEW_CASES), seed=1)
    m = measure(c)
    d = draw(c)
    zeroed = torch.zeros(c.trials, FEW_CASES["units"], dtype=torch.bool)
    for side_x in (d.x, d.x2):  # a unit whose ReLU is zero on every case, on either side
        zeroed |= (torch.relu(side_x @ d.w.transpose(-1, -2)) == 0).all(1)  # [T, C]
    assert m.left_out == (zeroed.sum(1) * FEW_CASES["cases"]).tolist()
    assert sum(m.left_out) > 0 and not any(m.degenerate)
    r = run_check(c)
    assert r.verdict != "undefined" and r.left_out == sum(m.left_out)
    assert f"{r.left_out} of {c.trials * m.entries} entries left out" in r.why


def test_torch_leaves_out_the_same_entries() -> None:
    """PyTorch's BatchNorm, given eps 1e-300 with eps off, returns b on a zeroed unit, not NaN:
    the same entries must still be left out."""
    c = check("batch_norm", "dataset_recenter", placement="post_activation", **FEW_CASES)
    ref, tor = measure(c), measure(c.with_(norm=NormConfig(id="batch_norm", impl="torch")))
    assert ref.left_out == tor.left_out and sum(ref.left_out) > 0
    assert ref.degenerate == tor.degenerate


def test_summed_placement_has_no_relu_degeneracy() -> None:
    assert not any(measure(check("batch_norm", "dataset_recenter", **FEW_CASES)).degenerate)


def test_float32_zeroed_sets_are_not_an_overflow() -> None:
    """0/0 of a zeroed set in the checked float32 run is left out, not a range problem."""
    r = run_check(
        check("group_norm", "dataset_rescale", placement="post_activation").with_(seed=2, dtype="float32")
    )
    assert r.verdict == "invariant" and r.left_out > 0 and r.degenerate == 0


# User code placed the same way -----------------------------------------------------------------------

LAYER_NORM_MODULE = NormConfig(
    id="custom", module="torch.nn:LayerNorm", kwargs={"normalized_shape": "{channels}", "eps": 0.0}
)


@pytest.mark.parametrize("placement", ["post_activation", "input"])
@pytest.mark.parametrize(
    "transform",
    [
        "weight_matrix_rescale",
        "weight_matrix_recenter",
        "dataset_rescale",
        "dataset_recenter",
        "case_rescale",
    ],
)
def test_module_norm_is_placed_like_the_builtin(placement: str, transform: str) -> None:
    c = check(LAYER_NORM_MODULE, transform, "sequence", placement)
    user, builtin = run_check(c), run_check(c.with_(norm=NormConfig(id="layer_norm")))
    assert (user.verdict, user.degenerate) == (builtin.verdict, builtin.degenerate)


def test_torch_impl_of_a_pre_norm_layer() -> None:
    for transform, verdict in (
        ("weight_matrix_rescale", "not_invariant"),
        ("dataset_rescale", "invariant"),
        ("dataset_recenter", "not_invariant"),
    ):
        r = run_check(
            check(NormConfig(id="layer_norm", impl="torch", torch_eps=False), transform, "sequence", "input")
        )
        assert r.verdict == verdict, (transform, r.why)


def test_eval_mode_running_statistics_are_of_what_the_norm_sees() -> None:
    """Running statistics learned on X (input): data re-scaling is then not absorbed."""
    c = check(NormConfig(id="batch_norm", mode="eval"), "dataset_rescale", placement="input")
    from invcheck.impls.reference import warmup_state

    mean, _ = warmup_state(c, draw(c))
    assert mean.shape == (8, 1, 32)  # per input feature
    assert run_check(c).verdict == "not_invariant"
    assert (
        run_check(c.with_(transform=TransformConfig(id="weight_matrix_rescale"))).verdict == "not_invariant"
    )


# Rules ---------------------------------------------------------------------------------------------


def test_weight_norm_on_the_input_is_undefined_with_the_reason() -> None:
    r = run_check(check("weight_norm", "dataset_rescale", placement="input"))
    assert r.verdict == "undefined" and "weights" in r.why


def test_yaml_placement_and_its_refusal_point_at_the_line() -> None:
    checks = spec.load_text(
        "checks:\n  - norm: layer_norm\n    transform: dataset_rescale\n"
        "    layer: {kind: dense, placement: input}\n",
        "s.yaml",
    )
    assert checks[0].layer.placement == "input" and checks[0].layer.channels == 32
    with pytest.raises(SpecError) as err:
        spec.load_text(
            "checks:\n  - norm: layer_norm\n    transform: dataset_rescale\n"
            "    layer: {kind: recurrent, placement: input}\n",
            "s.yaml",
        )
    assert str(err.value).startswith("s.yaml:4:") and "placement" in str(err.value)


def test_group_norm_groups_must_divide_what_the_norm_sees() -> None:
    """On the input, group_norm groups the input's features: 3 divides D = 9 but not H = 16."""
    c = check(NormConfig(id="group_norm", groups=3), "dataset_rescale", placement="input", inputs=9)
    assert run_check(c).verdict == "invariant"
    with pytest.raises(SpecError, match="does not divide"):
        run_check(c.with_(layer=LayerConfig("dense", inputs=9)))


def test_api_placement_option() -> None:
    import invcheck

    r = invcheck.invariance_error("layer_norm", "weight_matrix_rescale", "dense", placement="input")
    assert r.verdict == "not_invariant" and r.check.layer.placement == "input"
    r = invcheck.invariance_error("layer_norm", "weight_matrix_rescale", "dense", placement="post_activation")
    assert r.verdict == "invariant"


@pytest.mark.parametrize("kind", ["dense", "conv", "sequence"])
@pytest.mark.parametrize("placement", ["post_activation", "input"])
def test_pytorch_layers_compute_the_reference_in_every_placement(kind: str, placement: str) -> None:
    """PyTorch's norm layers, given what the placement hands them, compute the definition: the
    same axes, the same gains (D of them on the input)."""
    from invcheck.impls import build_forward

    for norm in ("batch_norm", "layer_norm", "group_norm", "rms_norm", "layer_norm_2d", "instance_norm"):
        if norm == "instance_norm" and kind == "dense":
            continue
        c = check(NormConfig(id=norm, eps=1e-5), "dataset_rescale", kind, placement)
        d = draw(c)
        ref = build_forward(c, d, torch.float64, torch.device("cpu"))(d.x, d.w)
        tor = build_forward(
            c.with_(norm=NormConfig(id=norm, eps=1e-5, impl="torch")), d, torch.float64, torch.device("cpu")
        )(d.x, d.w)
        assert torch.allclose(ref, tor, atol=1e-12), (norm, float((ref - tor).abs().max()))
