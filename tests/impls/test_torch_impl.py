"""impl torch: PyTorch's own layers agree with the reference math, cell by cell and number by number."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
import torch

from invcheck import names
from invcheck.draws import draw
from invcheck.errors import InvcheckError, SpecError
from invcheck.impls import Draw, reference, torch_impl
from invcheck.norms import get_norm
from invcheck.runner import run_check
from invcheck.runtime import DTYPES as DTYPES_BY_NAME
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.transforms import get_transform

APIS = ("module", "functional")
CPU = torch.device("cpu")


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


DTYPES = ("float64", "float32", "bfloat16")


def forwards(check: CheckConfig, d: Draw) -> list[tuple[str, torch.dtype, object]]:
    """Every torch forward a verdict run of `check` builds (measure.py, zero_sets.py): in the
    checked dtype, in float64 with the checked dtype's eps, both with eps off, and with eps tiny.
    A build torch refuses stands as its one-line message."""
    dtype = DTYPES_BY_NAME[check.dtype]
    tiny = replace(check, norm=replace(check.norm, eps=float(torch.finfo(dtype).tiny), torch_eps=False))
    variants = [
        (check, dtype, {}),
        (check, torch.float64, {"eps_dtype": dtype}),
        (check, torch.float64, {"eps_off": True, "eps_dtype": dtype}),
        (check, dtype, {"eps_off": True}),
        (tiny, dtype, {}),
    ]
    built: list[tuple[str, torch.dtype, object]] = []
    for c, dt, options in variants:
        try:
            built.append((f"{dt} {options} eps={c.norm.eps}", dt, torch_impl.build(c, d, dt, CPU, **options)))
        except InvcheckError as refused:
            built.append((f"{dt} {options} eps={c.norm.eps}", dt, str(refused)))
    return built


def run(fwd: object, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor | str:
    """y, or the one-line message of torch refusing the call."""
    if isinstance(fwd, str):
        return fwd
    try:
        with torch.no_grad():
            return fwd(x, w)  # type: ignore[operator]
    except InvcheckError as refused:
        return str(refused)


# F.instance_norm refuses one position in training ("Expected more than 1 spatial element") where
# the module computes: the two APIs differ there, so both APIs' verdicts are run in every dtype
APIS_DIFFER = {("instance_norm", "dense"), ("instance_norm", "recurrent")}


@pytest.mark.fast_set(dtype="float64", kind=("dense", "conv"))  # the rest: slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", names.LAYERS)
@pytest.mark.parametrize("norm", names.NORMS)
def test_functional_api_computes_the_module_s_outputs_bit_for_bit(norm: str, kind: str, dtype: str) -> None:
    """The functional API calls the module's kernel: every forward a verdict run builds (the checked
    dtype, float64, eps off, eps tiny) gives bitwise the module's y at both sides' inputs. This is
    why test_same_verdicts_as_reference runs the functional API in float64 only (APIS_DIFFER
    aside, where the module refuses and this test asserts that it still does)."""
    if not get_norm(norm).has_torch:
        pytest.skip(f"PyTorch has no version of {norm}")
    module = config(norm, kind, "dataset_rescale", dtype, impl="torch", api="module")
    functional = replace(module, norm=replace(module.norm, api="functional"))
    d = draw(module)
    differ = False
    for (label, dt, m), (_, _, f) in zip(forwards(module, d), forwards(functional, d)):
        x, w = (torch.cat(sides).to(dt) for sides in ((d.x, d.x2), (d.w, d.w2)))  # [2 T, ...]: both sides
        y_m, y_f = run(m, x, w), run(f, x, w)
        if isinstance(y_m, str) or isinstance(y_f, str):
            if (norm, kind) in APIS_DIFFER and not isinstance(y_m, str):
                assert "Expected more than 1 spatial element" in str(y_f), label
                differ = True
            else:
                assert y_f == y_m, label  # the same refusal
            continue
        assert y_f.dtype == y_m.dtype, label
        torch.testing.assert_close(y_f, y_m, rtol=0, atol=0, equal_nan=True, msg=label)
    assert differ == ((norm, kind) in APIS_DIFFER)


@pytest.mark.fast_set(dtype="float64", api="module", kind=("dense", "conv"))  # the rest: slow
@pytest.mark.shares_results("norm", "kind", "dtype")  # both APIs read one reference_verdict
# the functional API in float64 only: in every dtype it gives the module's outputs bit for bit
# (test_functional_api_computes_the_module_s_outputs_bit_for_bit), hence the module's verdicts
@pytest.mark.parametrize(
    ("norm", "kind", "dtype", "api"),
    [
        (norm, kind, dt, api)
        for norm in names.NORMS
        for kind in names.LAYERS
        for dt in DTYPES
        for api in APIS
        if api == "module" or dt == "float64" or (norm, kind) in APIS_DIFFER
    ],
)
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
