"""measure.measure + verdict.judge end to end (through runner.run_check).

The expectation table (tests/derived_rows.py) is derived by hand from the definitions in the README,
not imported from invcheck.paper; a norm it has no row for is skipped by name, never an error.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from invcheck import norms
from invcheck.impls import reference
from invcheck.measure import measure
from invcheck.names import DTYPES, NORMS
from invcheck.names import PAPER_TRANSFORMS as TRANSFORMS
from invcheck.norms.batch_norm import BatchNorm
from invcheck.norms.instance_norm import InstanceNorm
from invcheck.norms.layer_norm import LayerNorm
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.tolerance import MARGIN
from tests.derived_rows import EXPECTED, HOME

I, N, U = "invariant", "not_invariant", "undefined"

CELLS = [(layer, norm, t) for layer in EXPECTED for norm in NORMS for t in TRANSFORMS]
RUNS = [
    ("float64", 0),
    ("float64", 1),
    ("float64", 2),
    ("float32", 0),
    ("float32", 1),
    ("float32", 2),
    ("bfloat16", 0),
]


def derived(layer: str, norm: str, transform: str) -> str | None:
    """The hand-derived verdict, None where this table has no row for the norm."""
    row = EXPECTED[layer].get(norm)
    return None if row is None else row[TRANSFORMS.index(transform)]


def expected(layer: str, norm: str, transform: str) -> str:
    verdict = derived(layer, norm, transform)
    if verdict is None:
        pytest.skip(f"no hand derivation for {norm} in a {layer} layer: add one in {HOME}")
    return verdict


def config(
    layer: str = "dense",
    norm: str = "layer_norm",
    transform: str = "dataset_rescale",
    *,
    dtype: str = "float64",
    seed: int = 0,
    layer_kw: dict | None = None,
    norm_kw: dict | None = None,
    transform_kw: dict | None = None,
    **kw,
) -> CheckConfig:
    return CheckConfig(
        norm=NormConfig(id=norm, **(norm_kw or {})),
        transform=TransformConfig(id=transform, **(transform_kw or {})),
        layer=LayerConfig(kind=layer, **(layer_kw or {})),
        dtype=dtype,
        seed=seed,
        **kw,
    )


@functools.cache
def default_result(layer: str, norm: str, transform: str, dtype: str, seed: int):
    """The default-table check, run once per session (the table and ratio tests share it)."""
    return run_check(config(layer, norm, transform, dtype=dtype, seed=seed))


def evidence(r) -> str:
    return (
        f"{r.check.title} [{r.check.dtype}, seed {r.check.seed}]: {r.verdict}, deviation {r.deviation}, "
        f"tolerance {r.tolerance} ({r.bound}): {r.why}"
    )


def test_table_covers_every_norm_and_transform():
    for layer in ("dense", "conv"):
        assert set(EXPECTED[layer]) <= set(NORMS)
        missing = set(NORMS) - set(EXPECTED[layer])
        if missing:
            pytest.skip(
                f"no hand derivation for {', '.join(sorted(missing))} in a {layer} layer: add one in {HOME}"
            )
        assert all(len(row) == len(TRANSFORMS) for row in EXPECTED[layer].values())


# ---------------------------------------------------------------- the table, computed


@pytest.mark.fast_set(seed=0, dtype="float64")  # the other dtypes and seeds 1, 2: slow
@pytest.mark.shares_results("layer", "dtype", "seed")  # one default_result per cell, read by both tests
@pytest.mark.parametrize("dtype, seed", [pytest.param(d, s, id=f"{d}-seed{s}") for d, s in RUNS])
@pytest.mark.parametrize("layer, norm, transform", [pytest.param(*c, id="-".join(c)) for c in CELLS])
def test_table_verdict(layer, norm, transform, dtype, seed):
    r = default_result(layer, norm, transform, dtype, seed)
    assert r.verdict == expected(layer, norm, transform), evidence(r)


@pytest.mark.fast_set(seed=0, dtype="float64")  # the one test_table_verdict computes in the fast set
@pytest.mark.shares_results("layer", "dtype", "seed")
@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", ["dense", "conv"])
def test_tolerance_calibration_ratios(layer, dtype, seed):
    """Invariant cells stay well below their tolerance, in every comparison (tolerance.py's
    calibration claim); not-invariant cells clear MARGIN x tolerance."""
    bad = []
    for norm in NORMS:
        for transform in TRANSFORMS:
            want = expected(layer, norm, transform)
            r = default_result(layer, norm, transform, dtype, seed)
            ratios = [v["deviation"] / v["tolerance"] for v in r.runs.values()]
            if want == I and not max(ratios) <= 0.75:
                bad.append(f"invariant cell at ratio {max(ratios):.3g} > 0.75: " + evidence(r))
            if want == N and not r.deviation > MARGIN * r.tolerance:
                bad.append(f"not_invariant cell at ratio {r.ratio:.3g} <= {MARGIN}: " + evidence(r))
            if want == U:
                assert r.verdict == U and r.deviation is None
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------- the numbers a Measurement carries


@pytest.mark.parametrize(
    "layer, norm, group",
    [
        ("dense", "layer_norm", 16),
        ("dense", "batch_norm", 16),
        ("dense", "group_norm", 8),
        ("dense", "weight_norm", 1),
        ("conv", "layer_norm", 8 * 36),
        ("conv", "batch_norm", 16 * 36),
        ("conv", "instance_norm", 36),
    ],
)
def test_measurement_fields(layer, norm, group):
    c = config(layer, norm, "dataset_rescale", trials=5, dtype="float32")
    m = measure(c)
    assert m.undefined is None and m.range_problem is None
    for run, dtype in ((m.checked, "float32"), (m.exact, "float64")):
        assert run.dtype == dtype
        assert len(run.deviation) == len(run.noise) == len(run.scale) == len(run.finite) == 5
        assert all(0 < n < 1e-3 for n in run.noise) and all(run.finite) and all(run.moves)
        assert [w["trial"] for w in run.where] == list(range(5))
        assert all(set(w) == {"trial", "case", "unit"} for w in run.where)
    assert max(m.checked.noise) > 1e6 * max(m.exact.noise)  # float32's rounding, then float64's
    assert m.eps_effect == [] and m.degenerate == [None] * 5  # eps = 0: nothing to switch off
    assert m.device == "cpu" and m.seconds > 0


def test_instance_norm_dense_is_undefined_before_any_math():
    m = measure(config("dense", "instance_norm", "dataset_rescale"))
    assert m.undefined and "dense" in m.undefined and m.checked is None


# ---------------------------------------------------------------- known violations are caught


class LayerNormForgetsTheMean(LayerNorm):
    """Divides by the right sigma but never subtracts mu."""

    def statistics(self, v, xp, cfg, per_token=False, state=None):
        mu, var = super().statistics(v, xp, cfg, per_token, state)
        return torch.zeros_like(mu), var


class BatchNormFixedSigma(BatchNorm):
    """Subtracts the batch mean but divides by 1 instead of the batch's spread."""

    def statistics(self, v, xp, cfg, per_token=False, state=None):
        mu, var = super().statistics(v, xp, cfg, per_token, state)
        return mu, torch.ones_like(var)


class InstanceNormOverChannelsToo(InstanceNorm):
    """A 'fused' InstanceNorm that also reduces over channels: a LayerNorm in disguise."""

    def statistics(self, v, xp, cfg, per_token=False, state=None):
        from invcheck.norms.base import moments

        return moments(v, tuple(range(2, v.ndim)), xp)


@pytest.mark.parametrize(
    "broken, layer, transform, honest",
    [
        pytest.param(
            LayerNormForgetsTheMean(), "dense", "weight_matrix_recenter", I, id="layer_norm-no-mean"
        ),
        pytest.param(BatchNormFixedSigma(), "dense", "dataset_rescale", I, id="batch_norm-fixed-sigma-dense"),
        pytest.param(
            BatchNormFixedSigma(), "conv", "weight_matrix_rescale", I, id="batch_norm-fixed-sigma-conv"
        ),
        pytest.param(
            InstanceNormOverChannelsToo(),
            "conv",
            "weight_vector_rescale",
            I,
            id="instance_norm-over-channels",
        ),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_known_violations_are_caught(monkeypatch, broken, layer, transform, honest, dtype):
    c = config(layer, broken.id, transform, dtype=dtype)
    assert run_check(c).verdict == honest  # the honest norm first
    monkeypatch.setitem(norms.NORMS, broken.id, broken)
    r = run_check(c)
    assert r.verdict == N, evidence(r)
    assert r.deviation > MARGIN * r.tolerance


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_same_config_same_numbers(dtype):
    c = config("conv", "group_norm", "case_rescale", dtype=dtype, seed=5)
    m1, m2 = measure(c), measure(c)
    assert m1.checked == m2.checked and m1.exact == m2.exact
    assert run_check(c).to_dict() | {"seconds": 0} == run_check(c).to_dict() | {"seconds": 0}


def test_different_seeds_differ():
    devs = [
        tuple(measure(config("dense", "layer_norm", "weight_vector_rescale", seed=s)).checked.deviation)
        for s in (0, 1, 2)
    ]
    assert len(set(devs)) == 3


# ---------------------------------------------------------------- eps

EPS_CELLS = [
    pytest.param(layer, norm, t, id=f"{layer}-{norm}-{t}")
    for layer, norm, t in CELLS
    if derived(layer, norm, t) == I
]


def smallest_spread(c: CheckConfig) -> float:
    """The smallest sigma^2 the norm divides by in the check's draw, before and after the transform
    (its own statistics: of what it sees, or of each unit's weights)."""
    from invcheck.draws import draw
    from invcheck.norms.arrays import TORCH

    norm, kind, d = norms.get_norm(c.norm.id), c.layer.kind_spec, draw(c)
    if norm.acts_on == "weights":
        seen = [d.w, d.w2]
    else:
        seen = [kind.norm_input(c.layer, x, w) for x, w in ((d.x, d.w), (d.x2, d.w2))]
    stats = [norm.statistics(v, TORCH, c.norm, kind.per_token_statistics) for v in seen]
    return min(float(s[1].min()) for s in stats if s is not None)


@pytest.mark.fast_set(dtype="float64")  # float32: slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layer, norm, transform", EPS_CELLS)
def test_small_eps_keeps_invariant_cells_invariant(layer, norm, transform, dtype):
    eps = 1e-5
    c = config(layer, norm, transform, dtype=dtype, norm_kw={"eps": eps})
    refused = [
        p[1] for p in norms.get_norm(norm).problems(c.norm, c.layer.kind_spec, c.layer) if p[0] == "eps"
    ]
    if refused:  # the norm's own rules (has_eps False, or its problems()) take no eps: nothing to check
        pytest.skip(f"{norm} refuses an eps ({refused[0]}): eps's effect on its cells is not measured")
    r = run_check(c)
    assert r.verdict == I, evidence(r)
    assert r.bound in ("rounding", "eps")
    assert r.runs["float64, eps off"]["deviation"] < 1e-14
    if transform.endswith("recenter"):  # the variance is unchanged: eps moves both sides alike
        assert r.eps_effect < 1e-12, evidence(r)
        assert "eps cannot move" in r.why, evidence(r)  # so it may excuse nothing (measure._eps_blind)
    else:
        # sqrt(var + eps) / sqrt(var) - 1 <= eps / (2 var) on each side: at most eps over the smallest
        # spread apart (weight_standardization's spread of w_i, ~1/fan-in, makes that a few percent)
        assert 1e-12 < r.eps_effect < eps / smallest_spread(c), evidence(r)
        if dtype == "float64":
            assert r.bound == "eps", evidence(r)  # eps's effect (~1e-6) dwarfs float64 rounding


@pytest.mark.parametrize(
    "layer, norm, transform",
    [
        ("dense", "layer_norm", "dataset_rescale"),
        ("dense", "batch_norm", "weight_matrix_rescale"),
        ("conv", "instance_norm", "case_rescale"),
        ("conv", "rms_norm", "dataset_rescale"),
        ("dense", "weight_norm", "weight_vector_rescale"),
    ],
)
def test_eps_dominating_the_variance_breaks_a_set_bound(layer, norm, transform):
    # factors of 1e-4 shrink the variance to ~1e-8, far below eps = 1e-3
    kw = {"norm_kw": {"eps": 1e-3}, "transform_kw": {"scale": (1e-4, 2e-4)}}
    r = run_check(config(layer, norm, transform, max_eps_effect=1e-2, **kw))
    assert r.verdict == N, evidence(r)
    assert (r.run, r.bound) == ("eps", "eps") and r.deviation > 1e-2
    # unbounded (the default): invariant up to eps, its effect reported, whatever its size
    r = run_check(config(layer, norm, transform, **kw))
    assert r.verdict != N and r.eps_effect > 1e-2, evidence(r)
    if r.verdict == "invariant":
        assert "invariant up to eps" in r.why


# ---------------------------------------------------------------- degenerate and non-finite


@pytest.mark.parametrize("transform", ["weight_matrix_rescale", "dataset_recenter", "case_rescale"])
@pytest.mark.parametrize(
    "norm, layer_kw, norm_kw",
    [
        pytest.param("batch_norm", {"cases": 1}, {}, id="batch_norm-one-case"),
        pytest.param("group_norm", {"units": 16}, {"groups": 16}, id="group_norm-groups-equal-units"),
    ],
)
def test_zero_variance_is_undefined(norm, layer_kw, norm_kw, transform):
    r = run_check(config("dense", norm, transform, layer_kw=layer_kw, norm_kw=norm_kw))
    assert r.verdict == U, evidence(r)
    assert "zero variance" in r.why
    assert r.deviation is None and r.tolerance is None


def test_one_case_is_fine_for_conv_batch_norm():
    """A conv channel still has S'^2 positions to take statistics over."""
    r = run_check(config("conv", "batch_norm", "dataset_rescale", layer_kw={"cases": 1}))
    assert r.verdict == I, evidence(r)


def test_overflow_is_undefined():
    r = run_check(
        config("dense", "layer_norm", "dataset_rescale", dtype="float16", transform_kw={"scale": (1e6, 1e6)})
    )  # X' beyond float16's 65504
    assert r.verdict == U
    assert "overflows float16" in r.why


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_output_is_undefined(monkeypatch, bad):
    honest = reference.normalize

    def poisoned(*args, **kwargs):
        y = honest(*args, **kwargs).clone()
        y[:, 0, 0] = bad  # every trial
        return y

    monkeypatch.setattr(reference, "normalize", poisoned)
    r = run_check(config("dense", "layer_norm", "dataset_rescale"))
    assert r.verdict == U, evidence(r)
    assert "not finite" in r.why


# ---------------------------------------------------------------- settings that change verdicts


def test_tolerance_override_is_used_and_reported():
    c = config("dense", "layer_norm", "dataset_rescale", dtype="float32")
    natural = run_check(c)
    assert natural.verdict == I and natural.deviation > 0
    tight = run_check(c.with_(tolerance=natural.deviation / 10))
    assert (tight.verdict, tight.bound, tight.tolerance) == (N, "override", natural.deviation / 10)
    loose = run_check(config("dense", "layer_norm", "dataset_recenter", tolerance=10.0))
    assert (loose.verdict, loose.bound, loose.tolerance) == (I, "override", 10.0)


def test_batch_norm_eval_mode_loses_its_invariances():
    train = run_check(config("dense", "batch_norm", "dataset_rescale"))
    evald = run_check(config("dense", "batch_norm", "dataset_rescale", norm_kw={"mode": "eval"}))
    assert (train.verdict, evald.verdict) == (I, N), evidence(evald)


@pytest.mark.parametrize("norm", ["batch_norm", "instance_norm"])
def test_zero_padding_breaks_conv_dataset_recenter(norm):
    unpadded = run_check(config("conv", norm, "dataset_recenter"))
    padded = run_check(config("conv", norm, "dataset_recenter", layer_kw={"padding": 1}))
    assert (unpadded.verdict, padded.verdict) == (I, N), evidence(padded)


def test_negative_factors_flip_the_output():
    r = run_check(config("dense", "layer_norm", "dataset_rescale", transform_kw={"negative": True}))
    assert r.verdict == N, evidence(r)


def test_tf32_on_cpu_is_refused():
    from invcheck.errors import SpecError

    with pytest.raises(SpecError, match="tf32"):
        run_check(config("dense", "layer_norm", "dataset_rescale", dtype="float32", tf32=True))
    auto = run_check(
        config("dense", "layer_norm", "dataset_rescale", dtype="float32", tf32=True, device="auto")
    )
    assert auto.tf32 is False and "tf32" not in auto.why  # allowed where a GPU may be: means nothing without


@pytest.mark.parametrize("norm_kw, norm", [({}, "weight_norm"), ({"mode": "eval"}, "batch_norm")])
def test_huge_scales_are_not_mistaken_for_zero_variance(norm_kw, norm):
    r = run_check(
        config("dense", norm, "dataset_rescale", norm_kw=norm_kw, transform_kw={"scale": (1e8, 1e9)})
    )
    assert r.verdict == N


@pytest.mark.parametrize("transform", ["dataset_rescale", "weight_matrix_rescale"])
def test_probe_points_in_one_buffer_are_the_points(transform: str) -> None:
    """A large layer's probe writes each moved input into one buffer: each point, read before the
    next is asked for, is the point a fresh tensor gives (and both inputs move)."""
    from invcheck.draws import draw
    from invcheck.measure import STENCIL, _points

    check = CheckConfig(
        norm=NormConfig(id="layer_norm"), transform=TransformConfig(id=transform), trials=2, dtype="float32"
    )
    d, e, cpu = draw(check), 2.0**-20, torch.device("cpu")
    for side in (0, 1):
        fresh = [
            (x.clone(), w.clone()) for x, w in _points(check, d, side, STENCIL.points, e, torch.float32, cpu)
        ]
        reused = [
            (x.clone(), w.clone())
            for x, w in _points(check, d, side, STENCIL.points, e, torch.float32, cpu, reuse=True)
        ]
        assert all(torch.equal(a, b) for pa, pb in zip(fresh, reused) for a, b in zip(pa, pb))
        # both inputs move, the one the sides share too (one fixed factor keeps part of a dot
        # product's rounding common to every point: the fourth difference cancels it)
        assert not torch.equal(fresh[1][0], fresh[0][0]) and not torch.equal(fresh[1][1], fresh[0][1])


def test_a_summed_input_that_cancels_is_probed_with_both_inputs_moved() -> None:
    """sequence post_activation layer_norm x token_rescale, seed 0: a token left with two nonzero
    units whose summed inputs cancel 65-fold. Moving X alone, the float64 run's deviation was 1.16x
    its tolerance (inconclusive): part of the dot products' rounding was common to every probe point
    and cancelled. Moving X and W, the probe sees it."""
    r = run_check(
        CheckConfig(
            norm=NormConfig(id="layer_norm"),
            transform=TransformConfig(id="token_rescale"),
            layer=LayerConfig("sequence", placement="post_activation"),
        )
    )
    assert r.verdict == I and r.runs["float64"]["deviation"] < 0.9 * r.runs["float64"]["tolerance"]


@pytest.mark.parametrize(
    "impl, norm",
    [("reference", "layer_norm_2d"), ("reference", "rms_norm_2d"), ("torch", "rms_norm_2d")],
)
def test_a_position_left_with_two_small_channels_is_no_violation(impl: str, norm: str) -> None:
    """conv post_activation x dataset_rescale, float32, seed 1003: a position the ReLU leaves with two
    small channels (summed inputs cancelling 100-fold) dominates both the noise and the deviation.
    One probe drew its rounding small (float64 ratio 1.4: not_invariant): the probe is repeated
    there (measure._repeats). With torch's eps 1e-5 the float64 run with eps off borrowed the noise
    of the run with eps, far less sensitive there (ratio 1.5): it is probed itself."""
    r = run_check(
        CheckConfig(
            norm=NormConfig(id=norm, impl=impl),
            transform=TransformConfig(id="dataset_rescale"),
            layer=LayerConfig("conv", placement="post_activation"),
            dtype="float32",
            seed=1003,
        )
    )
    exact = r.runs.get("float64, eps off") or r.runs["float64"]
    assert r.verdict == I and exact["deviation"] <= exact["tolerance"]
