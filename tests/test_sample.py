"""sample.py: the samples that the float64 run and the noise probe look at are exact parts of the check."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from invcheck import measure as measure_mod
from invcheck import sample
from invcheck.draws import draw
from invcheck.impls import build_forward
from invcheck.layer_kinds import LAYER_KINDS, Size
from invcheck.layer_kinds.dense import Dense
from invcheck.measure import measure
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.verdict import judge


def check(
    norm: str = "layer_norm",
    transform: str = "dataset_rescale",
    trials: int = 8,
    dtype: str = "float64",
    **sizes: int,
) -> CheckConfig:
    return CheckConfig(
        norm=NormConfig(id=norm),
        transform=TransformConfig(id=transform),
        trials=trials,
        dtype=dtype,
        layer=LayerConfig("dense", **sizes),
    )


def forward(c: CheckConfig, d) -> torch.Tensor:
    return build_forward(c, d, torch.float64, torch.device("cpu"))(d.x, d.w)


# Many trials: the first few ------------------------------------------------------------------------


def test_few_trials_are_not_sampled() -> None:
    c = check(trials=sample.PROBE_TRIALS)
    assert sample.fewer_trials(c, draw(c)) is None


def test_the_trial_sample_is_the_first_trials_exactly() -> None:
    c = check(trials=sample.PROBE_TRIALS + 9)
    d = draw(c)
    small, head = sample.fewer_trials(c, d)
    assert small.trials == head.trials == sample.PROBE_TRIALS
    assert torch.equal(forward(small, head), forward(c, d)[: sample.PROBE_TRIALS])


def test_unprobed_trials_take_the_largest_probed_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    c = check(trials=sample.PROBE_TRIALS + 20, dtype="float32")
    k = sample.PROBE_TRIALS
    m = measure(c)
    for run in (m.checked, m.exact):
        assert len(run.noise) == c.trials and all(n > 0 for n in run.noise)
        assert run.noise[k:] == [max(run.noise[:k])] * 20
    monkeypatch.setattr(sample, "PROBE_TRIALS", c.trials)  # the same check, every trial probed
    every = measure(replace(c, seed=c.seed))
    assert every.checked.deviation == m.checked.deviation
    # what stands for an unprobed trial's noise is no underestimate of it
    assert all(true <= 1.5 * stand for true, stand in zip(every.checked.noise[k:], m.checked.noise[k:]))


@pytest.mark.parametrize(
    "transform, verdict",
    [
        ("dataset_rescale", "invariant"),
        ("dataset_recenter", "not_invariant"),
        ("weight_matrix_recenter", "invariant"),
        ("weight_vector_rescale", "not_invariant"),
    ],
)
def test_many_trials_keep_the_verdicts(transform: str, verdict: str) -> None:
    for dtype in ("float64", "float32"):
        r = run_check(check(transform=transform, trials=200, dtype=dtype))
        assert r.verdict == verdict, r.why


# Large layers: cases or units -----------------------------------------------------------------------


def test_small_layers_are_not_sampled() -> None:
    c = check()
    assert sample.smaller(c, draw(c)) is None


def test_a_per_case_norm_samples_its_first_cases_exactly() -> None:
    c = check(trials=2, cases=300, units=256, inputs=8)  # 76,800 output entries per trial
    d = draw(c)
    small, part = sample.smaller(c, d)
    k = small.layer.cases
    assert 0 < k < 300 and k * 256 <= sample.SAMPLE_ENTRIES
    assert torch.allclose(forward(small, part), forward(c, d)[:, :k], rtol=0, atol=1e-14)
    assert sample.stretch(c, small) > 1


def test_batch_norm_samples_its_first_units_exactly() -> None:
    c = check(norm="batch_norm", trials=2, cases=300, units=256, inputs=8)
    d = draw(c)
    small, part = sample.smaller(c, d)
    k = small.layer.units
    assert 0 < k < 256 and small.layer.cases == 300
    assert torch.allclose(forward(small, part), forward(c, d)[:, :, :k], rtol=0, atol=1e-14)


def test_batch_norm_on_the_input_samples_output_units_and_keeps_its_gain_whole() -> None:
    """At `placement: input` the norm's gain and bias size X's features, which the sample keeps whole:
    more input features than sampled units once crashed ("shape '[2, 1, 64, 1, 1]' is invalid")."""
    c = replace(
        check(norm="batch_norm", trials=2),
        layer=LayerConfig("dense", placement="input", cases=300, units=256, inputs=256),
    )
    d = draw(c)
    small, part = sample.smaller(c, d)
    k = small.layer.units
    assert 0 < k < 256 and small.layer.inputs == 256 and part.g.shape == d.g.shape == (2, 256)
    assert torch.allclose(forward(small, part), forward(c, d)[:, :, :k], rtol=0, atol=1e-14)
    assert f"saw {k} of the 256 units" in sample.describe(c, small)
    r = run_check(replace(c, dtype="float32", transform=TransformConfig(id="dataset_recenter")))
    assert r.verdict == "invariant", r.why


class _Diagonal(Dense):
    """A kind whose units also size X (as a depthwise conv's): a_nh = x_nh w_h."""

    id = "diagonal_for_test"
    sizes = {"cases": Size(16), "units": Size(16)}
    exact_sizes = {"cases": 3, "units": 4}

    def fan_in(self, layer: LayerConfig) -> int:
        return 1

    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.cases, layer.units)

    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.units, 1)

    def summed(self, layer: LayerConfig, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * w[..., 0].unsqueeze(1)


def test_a_kind_whose_units_size_x_is_run_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LAYER_KINDS, _Diagonal.id, _Diagonal())
    c = replace(check(norm="batch_norm", trials=2), layer=LayerConfig(_Diagonal.id, cases=300, units=256))
    assert sample.entries(c) > sample.SAMPLE_ENTRIES and sample.smaller(c, draw(c)) is None
    assert judge(measure(c)).verdict == "invariant"  # measured whole (the spec rules know no such kind)


# One call per probe point (large inputs) gives the numbers of one stacked call ------------------------


@pytest.mark.parametrize("transform", ["dataset_rescale", "weight_matrix_rescale"])
def test_points_one_at_a_time_match_the_stacked_call(monkeypatch: pytest.MonkeyPatch, transform: str) -> None:
    c = check(transform=transform, dtype="float32")
    stacked = measure(c)
    monkeypatch.setattr(measure_mod, "CACHE_ENTRIES", 0)
    looped = measure(replace(c, seed=c.seed))
    for a, b in ((stacked.checked, looped.checked), (stacked.exact, looped.exact)):
        assert a.deviation == pytest.approx(b.deviation, rel=1e-9, abs=1e-15)
        assert a.noise == pytest.approx(b.noise, rel=1e-9, abs=1e-15)
        assert a.moves == b.moves


@pytest.mark.parametrize("transform", ["dataset_rescale", "weight_matrix_recenter"])
def test_the_probe_moves_every_entry_of_x_and_w_by_k_steps(transform: str) -> None:
    """Both inputs move, whatever the transform changed: with one factor of each product held fixed,
    a dot product's rounding keeps a part common to every probe point (measure._points)."""
    c = check(transform=transform, dtype="float32")
    d = draw(c)
    points = list(
        measure_mod._points(c, d, 1, measure_mod.STENCIL.points, 2.0**-20, torch.float32, torch.device("cpu"))
    )
    x0, w0 = points[0]
    for x, w in points[1:]:
        for moved, base in ((x, x0), (w, w0)):
            ratio = (moved / base - 1).abs()
            assert ratio.min() > 2.0**-21 and ratio.max() < 2.0**-18  # every entry moved by k e, k = 1 or 2


# User code: its first cases stand for it only where they give the whole run's outputs ---------------

USER_NORMS = '''
import torch
from torch import nn


class CaseNorm(nn.Module):
    """A hand-written LayerNorm: each case's statistics over its units (cases independent)."""

    def __init__(self, units, leak=0.0):
        super().__init__()
        self.leak = leak

    def forward(self, a):
        mu = a.mean(-1, keepdim=True)
        return (a - (1 - self.leak) * mu) / (a - mu).pow(2).mean(-1, keepdim=True).sqrt()


class ChunkedNorm(nn.Module):
    """A per-case LayerNorm whose cases from 128 on leak their mean: a bug past any first-cases sample."""

    def __init__(self, units):
        super().__init__()

    def forward(self, a):
        mu = a.mean(-1, keepdim=True)
        leak = torch.ones_like(mu)
        leak[128:] = 1 - 1e-6
        return (a - leak * mu) / (a - mu).pow(2).mean(-1, keepdim=True).sqrt()


class Float32OnlyNorm(nn.Module):
    """An RMSNorm with an eps attribute that refuses to run in float64."""

    def __init__(self, units, eps=1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, a):
        if a.dtype == torch.float64:
            raise TypeError("float32 only")
        return a * torch.rsqrt(a.pow(2).mean(-1, keepdim=True) + self.eps)


class NaNNorm(nn.Module):
    """A LayerNorm with an eps that returns NaN for the cases from 4 on."""

    def __init__(self, units, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, a):
        mu = a.mean(-1, keepdim=True)
        y = (a - mu) / ((a - mu).pow(2).mean(-1, keepdim=True) + self.eps).sqrt()
        y[4:] = float("nan")
        return y


class BatchStatNorm(nn.Module):
    """A hand-written BatchNorm: each unit's statistics over the cases (cases not independent)."""

    def __init__(self, units):
        super().__init__()

    def forward(self, a):
        mu = a.mean(0, keepdim=True)
        return (a - mu) / (a - mu).pow(2).mean(0, keepdim=True).sqrt()
'''
LARGE = {"cases": 300, "inputs": 8, "units": 256}  # 76,800 output entries per trial


@pytest.fixture(scope="module")
def user_norms(tmp_path_factory: pytest.TempPathFactory) -> str:
    import sys

    folder = tmp_path_factory.mktemp("usernorms")
    (folder / "sample_user_norms.py").write_text(USER_NORMS)
    sys.path.insert(0, str(folder))
    yield "sample_user_norms"
    sys.path.remove(str(folder))


def user_check(module: str, transform: str, **kwargs: object) -> CheckConfig:
    from invcheck.api import check as api_check

    return api_check(
        transform=transform,
        module=module,
        kwargs={"units": "{units}", **kwargs},
        dtype="float32",
        trials=2,
        **LARGE,
    )


@pytest.mark.parametrize(
    "transform, verdict", [("dataset_rescale", "invariant"), ("weight_vector_rescale", "not_invariant")]
)
def test_a_per_case_user_norm_is_sampled_after_its_cases_are_checked(
    user_norms: str, transform: str, verdict: str
) -> None:
    r = run_check(user_check(f"{user_norms}:CaseNorm", transform))
    assert r.verdict == verdict, r.why
    assert any("bit for bit" in note for note in r.notes)


def test_a_leak_in_a_sampled_user_norm_is_caught(user_norms: str) -> None:
    r = run_check(user_check(f"{user_norms}:CaseNorm", "weight_matrix_recenter", leak=1e-6))
    assert r.verdict == "not_invariant", r.why


@pytest.mark.parametrize(
    "transform, verdict", [("dataset_rescale", "invariant"), ("case_rescale", "not_invariant")]
)
def test_a_user_norm_that_mixes_cases_is_probed_whole(user_norms: str, transform: str, verdict: str) -> None:
    r = run_check(user_check(f"{user_norms}:BatchStatNorm", transform))
    assert r.verdict == verdict, r.why
    assert not any("saw" in note for note in r.notes)  # no sample


def test_a_bug_past_the_sampled_cases_is_caught(user_norms: str) -> None:
    """The float64 runs of user code cover every case: the first cases only stand for its noise."""
    for dtype in ("float32", "float64"):
        r = run_check(replace(user_check(f"{user_norms}:ChunkedNorm", "weight_matrix_recenter"), dtype=dtype))
        assert r.verdict == "not_invariant", r.why


@pytest.mark.parametrize("transform", ["dataset_rescale", "case_rescale"])
def test_a_layer_without_float64_keeps_its_eps_measured(user_norms: str, transform: str) -> None:
    r = run_check(user_check(f"{user_norms}:Float32OnlyNorm", transform))
    assert r.verdict == "invariant", r.why
    assert "no float64 run" in r.why


def test_a_layer_that_returns_nan_is_named_as_such(user_norms: str) -> None:
    from invcheck.api import check as api_check

    r = run_check(
        api_check(transform="dataset_rescale", module=f"{user_norms}:NaNNorm", kwargs={"units": "{units}"})
    )
    assert r.verdict == "undefined" and "the layer returns NaN" in r.why and "spread" not in r.why


# eps on a large built-in layer: its effect over every case, not the sample's alone -------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eps_on_a_sampled_layer_is_allowed_over_every_case(
    monkeypatch: pytest.MonkeyPatch, dtype: str
) -> None:
    # two cases of 300 sampled: the case whose factor shrinks its variance most (eps's largest
    # effect) lies outside the sample, as it would in a real large layer now and then
    monkeypatch.setattr(sample, "SAMPLE_ENTRIES", 2 * LARGE["units"])
    c = replace(
        check(transform="case_rescale", trials=2, dtype=dtype, **LARGE),
        norm=NormConfig(id="layer_norm", eps=1e-5),
    )
    m = measure(c)
    assert max(m.eps_effect_whole) > 2 * max(m.eps_effect)  # the sample's alone would not cover it
    r = run_check(c)
    assert r.verdict == "invariant", r.why
