"""One mistake, one error line: a norm or transform refused as a whole (`norm: 5`) is not also
reported as naming neither an id nor a module (found by an outsider: two lines for one mistake)."""

from __future__ import annotations

import pytest

from invcheck import spec


@pytest.mark.parametrize(
    "text, wanted",
    [
        ("norm: 5\ntransform: dataset_rescale\n", ["norm must be an id or a mapping, got 5"]),
        ("norm: ~\ntransform: dataset_rescale\n", ["norm must be an id or a mapping, got null"]),
        ("norm: layer_norm\ntransform: [1]\n", ["transform must be an id or a mapping"]),
        ("norm: {eps: 1.0e-5}\ntransform: dataset_rescale\n", ["norm names neither an id nor a module"]),
        ("norm: layer_norm\ntransform: {scale: [0.5, 2]}\n", ["transform names neither an id nor a module"]),
    ],
)
def test_one_mistake_is_one_error(tmp_path, text: str, wanted: list[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    errors = spec.validate([path])
    assert len(errors) == len(wanted), [str(e) for e in errors]
    for err, want in zip(errors, wanted):
        assert want in str(err)
