"""A user module whose forward moves its buffers in place (spectral_norm's power iteration, BatchNorm's
running statistics): every call a check makes starts from the same state, so both sides compare like
with like (outside tester A: spectral_norm(Linear) in train mode read its invariant W rescale as
inconclusive at every seed, and not_invariant for one init, blamed on precision and eps)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.api import invariance_error  # noqa: E402
from invcheck.draws import draw  # noqa: E402
from invcheck.impls import build_forward  # noqa: E402


def _spectral(init: int) -> nn.Module:
    torch.manual_seed(init)
    return nn.utils.parametrizations.spectral_norm(nn.Linear(32, 16))


@pytest.mark.parametrize(("init", "seed"), [(4, 2), (0, 1)])
def test_spectral_norm_in_train_mode_is_invariant_to_w_rescale(init: int, seed: int) -> None:
    r = invariance_error(
        _spectral(init),
        "weight_matrix_rescale",
        role="layer",
        weight="parametrizations.weight.original",
        seed=seed,
    )
    assert r.verdict == "invariant", r.why
    assert "lower precision" not in r.why


def test_spectral_norm_w_recenter_is_not_invariant_at_every_seed() -> None:
    found = {
        invariance_error(
            _spectral(0),
            "weight_matrix_recenter",
            role="layer",
            weight="parametrizations.weight.original",
            seed=s,
        ).verdict
        for s in range(3)
    }
    assert found == {"not_invariant"}


def test_repeated_calls_of_one_forward_give_the_same_output() -> None:
    m = _spectral(1)
    r = invariance_error(m, "weight_matrix_rescale", role="layer", weight="parametrizations.weight.original")
    check = r.check.with_(trials=2)
    d = draw(check)
    fwd = build_forward(check, d, torch.float64, torch.device("cpu"))
    first, again = fwd(d.x, d.w), fwd(d.x, d.w)
    assert torch.equal(first, again)  # the power iteration's _u, _v written back before each call


def test_batch_norm_eval_keeps_the_running_statistics_its_warmup_set() -> None:
    r = invariance_error(nn.BatchNorm1d(16), "dataset_rescale", mode="eval", trials=2)
    assert r.verdict == "not_invariant", r.why  # running statistics: y moves with a
    r = invariance_error(nn.BatchNorm1d(16), "dataset_rescale", trials=2)
    assert r.verdict == "invariant", r.why
