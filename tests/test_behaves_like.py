"""A user layer's row is recognized as the built-in norm it computes, the norms added last included."""

from __future__ import annotations

import pytest

from invcheck import table

USER_NORMS = '''
import torch
from torch import nn


class DyT(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(0.5))
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, a):
        shape = (1, -1) + (1,) * (a.dim() - 2)
        return self.weight.reshape(shape) * torch.tanh(self.alpha * a) + self.bias.reshape(shape)


class ScaleNorm(nn.Module):
    """Nguyen & Salazar's: one scalar gain, a / ||a|| over each case."""

    def __init__(self, features):
        super().__init__()
        self.g = nn.Parameter(torch.ones(()))

    def forward(self, a):
        return self.g * a / a.flatten(1).norm(dim=1).reshape(-1, *([1] * (a.dim() - 1)))
'''


@pytest.mark.parametrize(
    "name, like",
    [("DyT", "behaves like: dyt"), ("ScaleNorm", "behaves like: rms_norm, scale_norm")],
)
def test_a_user_layer_behaves_like_the_new_norms(tmp_path, monkeypatch, name, like):
    (tmp_path / "behaves_like_norms.py").write_text(USER_NORMS)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"behaves_like_norms:{name}"
    report = table.build(["dense"], trials=3, module=module, kwargs={"features": "{channels}"})
    assert report.meta["behaves_like"]["dense"][module] == like
