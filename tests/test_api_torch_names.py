"""The API takes torch's own dtype and device objects as well as their names."""

from __future__ import annotations

import pytest
import torch

import invcheck
from invcheck.api import check
from invcheck.errors import SpecError


def test_a_torch_dtype_and_device_are_their_names() -> None:
    c = check("layer_norm", "dataset_rescale", dtype=torch.float32, device=torch.device("cpu"))
    assert (c.dtype, c.device) == ("float32", "cpu")
    assert check("layer_norm", "dataset_rescale", device=torch.device("cuda", 1)).device == "cuda:1"
    result = invcheck.invariance_error("layer_norm", "dataset_rescale", dtype=torch.float32, trials=2)
    assert result.check.dtype == "float32"
    changed = invcheck.invariance_error(check("layer_norm", "dataset_rescale", trials=2), dtype=torch.float16)
    assert changed.check.dtype == "float16"  # a CheckConfig's keyword changes too


def test_a_torch_dtype_invcheck_does_not_check_is_still_refused_by_name() -> None:
    with pytest.raises(SpecError, match="unknown dtype 'int64'"):
        check("layer_norm", "dataset_rescale", dtype=torch.int64)
