"""A lazy module instance (nn.LazyBatchNorm1d()) handed to the API: torch refuses to deep-copy its
uninitialized parameters, so each trial's copy gets fresh ones and takes its shapes from its first
input, as the original would. Its verdicts are those of the same norm built with its sizes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from invcheck import api  # noqa: E402
from invcheck.user_objects import features  # noqa: E402

CASES = [
    (nn.LazyBatchNorm1d, lambda: nn.BatchNorm1d(16), {}),
    (lambda: nn.LazyInstanceNorm1d(affine=True), lambda: nn.InstanceNorm1d(16, affine=True), {}),
    (nn.LazyBatchNorm2d, lambda: nn.BatchNorm2d(8), {"layer": "conv", "out_channels": 8}),
]


@pytest.mark.fast_set(transform="dataset_rescale")  # every lazy class; its other transforms: slow
@pytest.mark.parametrize("lazy, sized, options", CASES)
@pytest.mark.parametrize("transform", ["dataset_rescale", "case_rescale", "dataset_recenter"])
def test_a_lazy_instance_gets_the_verdict_of_its_sized_twin(lazy, sized, options, transform) -> None:
    instance = lazy()
    got = api.invariance_error(instance, transform, trials=4, **options)
    want = api.invariance_error(sized(), transform, trials=4, **options)
    assert got.verdict == want.verdict
    assert torch.nn.parameter.is_lazy(instance.weight)  # the caller's instance is left as it was


def test_a_lazy_instance_has_no_size_to_read() -> None:
    assert features(nn.LazyBatchNorm1d()) is None
    assert features(nn.BatchNorm1d(7)) == 7
