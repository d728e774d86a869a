"""The API refuses an argument of the wrong type with a TypeError naming it (as for a None norm),
and keeps SpecError for a value of the right type the rules refuse; a transform given as a mapping,
as a spec writes it, is the same check as its keyword form."""

from __future__ import annotations

from typing import Any

import pytest

from invcheck.api import check
from invcheck.errors import SpecError


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"dtype": 3},
            "dtype must be one of float64, float32, float16, bfloat16 or a torch.dtype, got int 3",
        ),
        ({"device": object()}, "device must be text or a torch.device, got object <object object"),
        ({"trials": "8"}, "trials must be an integer, got str '8'"),
        ({"trials": True}, "trials must be an integer, got bool True"),
        ({"seed": [1]}, "seed must be an integer, got list [1]"),
        ({"impl": 3}, "impl must be one of reference, torch, got int 3"),
        ({"negative": 1}, "negative must be True or False, got int 1"),
        ({"units": "16"}, "units must be an integer, got str '16'"),
        ({"tolerance": [1e-3]}, "tolerance must be a number (or None), got list [0.001]"),
        ({"scale": "x"}, "scale must be a [low, high] pair, got str 'x'"),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_argument(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError) as info:
        check("layer_norm", "dataset_rescale", **options)
    assert str(info.value).startswith(message) and not isinstance(info.value, SpecError)


@pytest.mark.parametrize("options", [{"dtype": "flaot32"}, {"trials": 0}, {"trials": 2.5}, {"eps": "1e-5"}])
def test_a_value_of_the_right_type_the_rules_refuse_is_still_a_spec_error(options: dict[str, Any]) -> None:
    with pytest.raises(SpecError):
        check("layer_norm", "dataset_rescale", **options)


def test_a_transform_mapping_is_its_keyword_form() -> None:
    mapped = check("layer_norm", {"id": "dataset_rescale", "negative": True})
    assert mapped == check("layer_norm", "dataset_rescale", negative=True)
    shifted = check("layer_norm", {"id": "dataset_recenter", "shift": 2.0}, trials=2)
    assert shifted == check("layer_norm", "dataset_recenter", shift=2.0, trials=2)
    with pytest.raises(SpecError, match="shift does not apply to dataset_rescale"):  # named, as in a spec
        check("layer_norm", {"id": "dataset_rescale", "shift": 1.0})


@pytest.mark.parametrize(
    "transform, extra, message",
    [
        ({"negative": True}, {}, "names neither an id nor a module"),
        ({"id": "dataset_rescale", "negativ": True}, {}, "did you mean 'negative'"),
        ({"id": "dataset_rescale", "groups": 2}, {}, "'groups' is not a transform key"),
        ({"id": "dataset_rescale", "negative": True}, {"negative": False}, "given twice"),
        ({"id": "dataset_rescale", "kwargs": {}}, {}, "apply only to a 'module' transform"),
    ],
)
def test_a_transform_mapping_takes_a_spec_s_keys_and_no_others(
    transform: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        check("layer_norm", transform, **extra)


def test_invariance_error_raises_only_where_there_is_no_verdict_as_the_readme_says() -> None:
    pytest.importorskip("torch")
    from invcheck.api import invariance_error
    from invcheck.errors import UserCodeError

    assert invariance_error(lambda a: a * 0, "dataset_rescale", trials=2).verdict == "undefined"
    with pytest.raises(UserCodeError, match="tuple"):
        invariance_error(lambda a: (a,), "dataset_rescale", trials=2)
