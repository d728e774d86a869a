"""impl torch: PyTorch's own layers agree with the reference math, cell by cell and number by number."""

from __future__ import annotations

import functools

import pytest
import torch

from invcheck import names
from invcheck.draws import draw
from invcheck.errors import InvcheckError, SpecError
from invcheck.impls import reference, torch_impl
from invcheck.norms import get_norm
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.transforms import get_transform

APIS = ("module", "functional")


def defined(norm: str, kind: str) -> bool:
    layer = LayerConfig(kind)
    return get_norm(norm).undefined_reason(layer.kind_spec, layer, NormConfig(id=norm)) is None


def transforms(kind: str) -> list[str]:
    return [
        t for t in names.TRANSFORMS if get_transform(t).undefined_reason(LayerConfig(kind).kind_spec) is None
    ]


def config(
    norm: str,
    kind: str = "dense",
    transform: str = "dataset_rescale",
    dtype: str = "float64",
    **norm_options: object,
) -> CheckConfig:
    return CheckConfig(
        norm=NormConfig(id=norm, **norm_options),
        transform=TransformConfig(id=transform),
        layer=LayerConfig(kind=kind),
        dtype=dtype,
        trials=4,
    )


@functools.cache
def reference_verdict(norm: str, kind: str, transform: str, dtype: str) -> str:
    """The reference's verdict of a cell: the same for both torch APIs, so computed once."""
    return run_check(config(norm, kind, transform, dtype)).verdict


def outputs(check: CheckConfig, impl: str) -> tuple[torch.Tensor, object]:
    """y of the untransformed side, float64, and the Forward that made it."""
    d = draw(check)
    build = torch_impl.build if impl == "torch" else reference.build
    with torch.no_grad():
        fwd = build(check, d, torch.float64, torch.device("cpu"))
        return fwd(d.x, d.w), fwd


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", names.LAYERS)
@pytest.mark.parametrize("norm", names.NORMS)
def test_same_numbers_as_reference(norm: str, kind: str, api: str) -> None:
    """With the same eps, torch's layer computes the reference's y: layout, gains, biases, groups."""
    if not defined(norm, kind):
        pytest.skip("undefined there (checked below)")
    if not get_norm(norm).has_torch:
        pytest.skip(f"PyTorch has no version of {norm}")
    eps = 1e-5 if get_norm(norm).has_eps else 0.0  # both sides add the same eps
    y_ref, _ = outputs(config(norm, kind, eps=eps), "reference")
    y, fwd = outputs(config(norm, kind, impl="torch", api=api, eps=eps), "torch")
    assert y.shape == y_ref.shape  # [T, N, C, *positions]
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fwd.gain, draw(config(norm, kind)).g)  # [T, C]: the draw's gains


@pytest.mark.fast_set(dtype="float64", api="module", kind=("dense", "conv"))  # the rest: slow
@pytest.mark.shares_results("norm", "kind", "dtype")  # both APIs read one reference_verdict
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("dtype", ("float64", "float32", "bfloat16"))
@pytest.mark.parametrize("kind", names.LAYERS)
@pytest.mark.parametrize("norm", names.NORMS)
def test_same_verdicts_as_reference(norm: str, kind: str, dtype: str, api: str) -> None:
    """torch's defaults (eps 1e-5, RMSNorm's finfo eps) keep every verdict of the reference."""
    if not get_norm(norm).has_torch:
        pytest.skip(f"PyTorch has no version of {norm}")
    if norm == "weight_standardization" and kind == "recurrent":
        pytest.xfail("timm's eps 1e-6 moves a re-scaled unit's standardized weights by ~1% here: a finding")
    for transform in transforms(kind):
        ref = reference_verdict(norm, kind, transform, dtype)
        got = run_check(config(norm, kind, transform, dtype, impl="torch", api=api))
        assert (transform, got.verdict) == (transform, ref), got.why
        if not defined(norm, kind):
            assert got.verdict == "undefined"


@pytest.mark.parametrize("norm", [n for n in names.NORMS if n != "batch_norm"])
def test_torch_eps_false_is_exact_math(norm: str) -> None:
    """torch_eps: false with eps 0 runs torch's layer with eps really 0: the reference's math."""
    if not get_norm(norm).has_torch:
        pytest.skip(f"PyTorch has no version of {norm}")
    for kind in names.LAYERS:
        if not defined(norm, kind):
            continue
        y_ref, _ = outputs(config(norm, kind), "reference")
        y, fwd = outputs(config(norm, kind, impl="torch", torch_eps=False), "torch")
        assert fwd.eps_info.value == 0.0
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("norm", "options", "dtype", "eps"),
    [
        ("layer_norm", {}, torch.float32, 1e-5),
        ("batch_norm", {}, torch.float64, 1e-5),
        ("group_norm", {"eps": 1e-3}, torch.float64, 1e-3),  # a nonzero eps is used as given
        ("layer_norm", {"torch_eps": False}, torch.float64, 0.0),
        ("rms_norm", {}, torch.float64, torch.finfo(torch.float64).eps),
        # because torch's RMSNorm (eps None) takes the epsilon of its float32 compute type for half inputs
        ("rms_norm", {}, torch.bfloat16, torch.finfo(torch.float32).eps),
        ("weight_norm", {}, torch.float32, 0.0),
    ],
)
def test_eps_really_used(norm: str, options: dict, dtype: torch.dtype, eps: float) -> None:
    check = config(norm, impl="torch", **options)
    with torch.no_grad():
        fwd = torch_impl.build(check, draw(check), dtype, torch.device("cpu"))
    assert fwd.eps_info.value == eps


def test_rms_norm_default_eps_is_what_torch_adds() -> None:
    """The eps reported for bfloat16 RMSNorm is the one torch really adds (not bfloat16's 2^-7)."""
    a = torch.full((1, 4), 1e-2, dtype=torch.bfloat16)
    y = torch.nn.functional.rms_norm(a, (4,))
    expected = 1e-2 / (1e-4 + torch.finfo(torch.float32).eps) ** 0.5
    assert abs(y[0, 0].item() - expected) < 1e-2


def test_refusals_are_one_line_spec_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    # (torch_eps false with eps 0 is no refusal: eps really 0, test_torch_one_rule.py)
    def refuse(self: object, setup: object) -> None:
        raise RuntimeError("batch_norm eps must be positive\nsecond line")

    monkeypatch.setattr(type(get_norm("batch_norm")), "torch_norm", refuse)
    check = config("batch_norm", impl="torch").with_(file="t.yaml", line=3)
    with pytest.raises(SpecError, match=r"^t\.yaml:3: torch refused batch_norm .*eps") as info:
        run_check(check)
    assert "\n" not in str(info.value)
    with pytest.raises(SpecError, match="weight_norm has no eps"):
        run_check(config("weight_norm", impl="torch", eps=1e-3))
    assert isinstance(info.value, InvcheckError)


# batch_norm in eval mode -------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", [k for k in names.LAYERS if k != "recurrent"])
def test_eval_running_stats_are_real(kind: str, api: str) -> None:
    """Warm-up batches move the running stats off torch's initial 0/1, exactly as the reference's."""
    check = config("batch_norm", kind, impl="torch", api=api, mode="eval")
    _, fwd = outputs(check, "torch")
    mean, var = fwd.state
    assert mean.shape == var.shape == reference.unit_shape(check, 4)
    assert mean.dtype == torch.float64
    assert (mean != 0).all() and (var != 1).all()
    ref_mean, ref_var = reference.warmup_state(check, draw(check))
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)


@pytest.mark.parametrize("api", APIS)
def test_eval_mode_loses_dataset_rescale(api: str) -> None:
    train = run_check(config("batch_norm", impl="torch", api=api))
    evaluated = run_check(config("batch_norm", impl="torch", api=api, mode="eval"))
    assert train.verdict == "invariant"
    assert evaluated.verdict == "not_invariant"
