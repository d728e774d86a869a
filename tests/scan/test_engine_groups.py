"""Joint groups of a norm's own (gain, bias) pair, on small models whose answers are derived by hand.

A norm's affine output is y = g ẑ + β. Scaling g and β together by δ > 0 scales y by δ; ReLU is
positively homogeneous (relu(δ y) = δ relu(y)), a bias-free linear map carries δ through, and a norm
with statistics over the scaled axes divides it out. A per-unit factor δ_c is different: after a
layer that mixes units (conv, Linear), each output is Σ_c W[o, c] δ_c h_c, no factor of the output's
own: the next norm cannot remove it. A pair whose output also reaches the output another way (a
residual shortcut) is not removed there: not invariant.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.scan import scan  # noqa: E402
from invcheck.scan.report import GroupVerdict, ScanReport  # noqa: E402

M, V, C = "weight_matrix_rescale", "weight_vector_rescale", "weight_matrix_recenter"
INV, NOT = "invariant", "not_invariant"


def group(report: ScanReport, names: tuple[str, ...], transform: str) -> GroupVerdict:
    return next(g for g in report.groups if g.names == names and g.transform == transform)


class BNReluConvBN(nn.Module):
    """bn1 -> ReLU -> conv (no bias) -> bn2, optionally plus bn1's output as a shortcut."""

    def __init__(self, shortcut: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(4)
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(x))
        y = self.bn2(self.conv(h))
        return y + h if self.shortcut else y


def bn_model(shortcut: bool) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return BNReluConvBN(shortcut), torch.randn(6, 4, 5, 5)


def test_batch_norm_pair_before_relu_conv_batch_norm_holds_jointly() -> None:
    """bn1's (gain, bias) x δ: relu(δ y) = δ relu(y), the conv carries δ, train-mode bn2 removes it;
    neither alone holds (the gain alone moves ReLU's kink; the zero bias alone holds at its zero
    only), so the pair is tested, and it holds at generic values too. Per channel: the conv mixes
    channels, bn2 cannot remove it. A shift moves ReLU's kink: not invariant."""
    model, x = bn_model(shortcut=False)
    r = scan(model, x, mode="train")
    pair = ("bn1.weight", "bn1.bias")
    assert r.verdict_of("bn1.bias", M).at_these_values_only  # zero init: holds there only
    g = group(r, pair, M)
    assert g.verdict == INV and not g.at_these_values_only
    assert g.deviation <= g.tolerance
    assert g.via == "bn2 (BatchNorm2d, batch statistics)"
    assert group(r, pair, V).verdict == NOT
    assert group(r, pair, C).verdict == NOT
    # bn2's pair scales the output itself
    assert group(r, ("bn2.weight", "bn2.bias"), M).verdict == NOT


def test_batch_norm_pair_feeding_a_shortcut_does_not_hold() -> None:
    """The same pair whose ReLU output is also added to the output: bn2 removes δ on one path, the
    shortcut carries δ relu(y) to the output unchanged."""
    model, x = bn_model(shortcut=True)
    r = scan(model, x, mode="train")
    g = group(r, ("bn1.weight", "bn1.bias"), M)
    assert g.verdict == NOT
    assert g.deviation > 1e-3


class LNLinearLN(nn.Module):
    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 8, bias=bias)
        self.ln2 = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln2(self.fc(self.ln1(x)))


def ln_model(bias: bool) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return LNLinearLN(bias), torch.randn(5, 8)


def test_layer_norm_pair_before_bias_free_linear_layer_norm_holds_jointly() -> None:
    """ln1's (gain, bias) x δ: fc(δ y) = δ fc(y) without a bias, ln2 removes a common factor over
    its features; per feature it mixes through fc: not removed."""
    model, x = ln_model(bias=False)
    r = scan(model, x)
    g = group(r, ("ln1.weight", "ln1.bias"), M)
    assert g.verdict == INV and not g.at_these_values_only
    assert g.via == "ln2 (LayerNorm, per-sample statistics)"
    assert group(r, ("ln1.weight", "ln1.bias"), V).verdict == NOT


def test_layer_norm_pair_before_linear_with_a_bias_does_not_hold() -> None:
    """With fc's bias c ≠ 0: fc(δ y) = δ W y + c, not a multiple of W y + c: ln2 cannot remove δ."""
    model, x = ln_model(bias=True)
    r = scan(model, x)
    g = group(r, ("ln1.weight", "ln1.bias"), M)
    assert g.verdict == NOT
    assert g.deviation > 1e-3


def test_param_groups_put_a_jointly_invariant_norm_pair_in_the_scale_invariant_group() -> None:
    """One decay coefficient on bn1's gain and bias rescales them together: no effect on the output."""
    from invcheck.scan.param_groups import SCALE_INVARIANT, param_groups

    model, x = bn_model(shortcut=False)
    groups = {g["name"]: g["params"] for g in param_groups(model, x)}
    invariant = {id(p) for p in groups[SCALE_INVARIANT]}
    assert id(model.bn1.weight) in invariant and id(model.bn1.bias) in invariant
    assert id(model.bn2.weight) not in invariant  # bn2's output is the model's output


def test_a_pair_with_a_nonzero_bias_is_measured_as_a_pair() -> None:
    """A zero bias makes the pair's rescale its gain's alone (its numbers are reused); a trained,
    nonzero bias is rescaled too, and the pair still holds (the derivation needs no zero)."""
    model, x = bn_model(shortcut=False)
    with torch.no_grad():
        model.bn1.bias.copy_(torch.linspace(-0.5, 0.5, 4))
    r = scan(model, x, mode="train")
    assert not r.verdict_of("bn1.bias", M).at_these_values_only  # not invariant alone, anywhere
    g = group(r, ("bn1.weight", "bn1.bias"), M)
    assert g.verdict == INV and not g.at_these_values_only
    assert group(r, ("bn1.weight", "bn1.bias"), V).verdict == NOT
