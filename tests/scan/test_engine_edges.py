"""What a scan says about models at its edges: none to scan, too large, a forward that fails, the
model's own dtype, the header's count of joint groups."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.errors import InvcheckError  # noqa: E402
from invcheck.scan import scan, text  # noqa: E402
from invcheck.scan.memory import MODEL_COPIES, estimate  # noqa: E402


class BufferOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.ones(4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def test_a_model_without_parameters_gives_an_empty_report_and_a_warning() -> None:
    with pytest.warns(UserWarning, match="no parameter tensors to scan"):
        r = scan(BufferOnly(), torch.randn(2, 4))
    assert r.parameters == () and r.groups == ()


def test_a_model_above_the_memory_bound_is_refused_before_it_is_copied() -> None:
    model = nn.Linear(100, 100)  # 10,100 parameters: 4 float64 copies = 323,200 bytes
    need = estimate(model, torch.randn(2, 100), None, torch.float64)
    assert need >= 8 * MODEL_COPIES * 10_100
    with pytest.raises(InvcheckError, match=r"needs about .* of memory .* above the limit"):
        scan(model, torch.randn(2, 100), max_memory=100_000)
    assert scan(model, torch.randn(2, 100), max_memory=None).parameters  # no bound: scanned


def test_a_forward_that_fails_names_the_copys_dtype_as_the_copys() -> None:
    """Integer inputs to a Linear: torch says "Long and Double"; Double is the scan's copy."""
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))
    with pytest.raises(InvcheckError) as err:
        scan(model, torch.randint(0, 10, (2, 4)))
    message = str(err.value)
    assert "Double here is the copy's dtype, float32 in your model" in message
    assert "\n" not in message


def test_the_report_records_the_models_own_dtype_and_the_copys() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.LayerNorm(8), nn.Linear(8, 2)).to(torch.bfloat16)
    r = scan(model, torch.randn(3, 4).to(torch.bfloat16))
    assert (r.model_dtype, r.scan_dtype) == ("bfloat16", "float64")
    assert r.to_json()["model_dtype"] == "bfloat16"
    shown = text.render(r, width=120)
    assert "model dtype bfloat16; scanned as a float64 copy" in shown


def test_the_header_counts_groups_not_their_verdicts() -> None:
    """Linear(4, 8) -> LN -> Linear(8, 2): 2 (weight, bias) pairs under up to 3 transforms each."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    r = scan(model, torch.randn(3, 4))
    pairs = {g.names for g in r.groups}
    assert len(r.groups) > len(pairs)  # else the test could not tell the two counts apart
    assert f"{len(pairs)} joint group(s) tested" in text.render(r, width=160)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trials", 0),
        ("trials", -5),
        ("trials", 2.5),
        ("trials", True),
        ("seed", -1),
        ("seed", 2**70),
        ("seed", "x"),
    ],
)
def test_scan_refuses_trials_and_seeds_a_spec_refuses_naming_the_argument(key: str, value: object) -> None:
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.LayerNorm(4))
    with pytest.raises(ValueError, match=rf"^scan\(\): {key} must be an integer in \["):
        scan(model, torch.randn(5, 3), **{key: value})  # type: ignore[arg-type]
