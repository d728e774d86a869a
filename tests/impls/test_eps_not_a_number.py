"""An eps attribute that holds no number (a string, a tensor of several entries) is said for what it
is: it was told 'no eps attribute found', as if the layer had none."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck import api  # noqa: E402
from invcheck.errors import UserCodeError  # noqa: E402


class _Norm(nn.Module):
    def __init__(self, eps: object) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a / a.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize(
    ("eps", "said"),
    [
        ("1e-5", "`eps` is a str ('1e-5')"),
        (torch.tensor([1e-5, 2e-5]), "`eps` is a float32 tensor of shape [2]"),
    ],
)
def test_an_eps_that_is_no_number_is_named(eps: object, said: str) -> None:
    why = api.invariance_error(_Norm(eps), "dataset_rescale", trials=2).why
    assert said in why and "not a number" in why
    assert "no eps attribute found" not in why


def test_named_by_eps_attr_it_is_the_error() -> None:
    with pytest.raises(UserCodeError, match=r"eps attribute `eps` is a str \('1e-5'\), not a number"):
        api.invariance_error(_Norm("1e-5"), "dataset_rescale", trials=2, eps_attr="eps")
