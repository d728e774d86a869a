"""The scan engine on small models whose invariance maps are known by hand.

Each expectation is reasoned in its test's docstring; each assertion can fail (a wrong axis, a
wrong mode, a missed group or a wrong tolerance would flip it).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.errors import InvcheckError  # noqa: E402
from invcheck.scan import scan  # noqa: E402
from invcheck.scan.passes import select_output  # noqa: E402
from invcheck.scan.report import ScanReport  # noqa: E402
from invcheck.scan.units import unit_axis  # noqa: E402

M, V, C = "weight_matrix_rescale", "weight_vector_rescale", "weight_matrix_recenter"
INV, NOT = "invariant", "not_invariant"


def verdicts(report: ScanReport, name: str) -> tuple[str, str, str]:
    return tuple(report.verdict_of(name, t).verdict for t in (M, V, C))  # type: ignore[return-value]


def group(report: ScanReport, names: tuple[str, ...], transform: str):
    return next(g for g in report.groups if g.names == names and g.transform == transform)


class ConvBN(nn.Module):
    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))))


def conv_bn(bias: bool) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return ConvBN(bias), torch.randn(4, 3, 6, 6)


def test_bias_free_conv_before_batch_norm_in_train_mode() -> None:
    """BN with batch statistics divides out any positive per-channel factor of its input, so the
    conv weight is invariant to a common and to a per-channel factor; adding the same filter to
    every channel adds a term that varies over positions and samples: not removed."""
    model, x = conv_bn(bias=False)
    r = scan(model, x, mode="train")
    assert verdicts(r, "conv.weight") == (INV, INV, NOT)
    via = r.verdict_of("conv.weight", M).via
    assert via == "bn (BatchNorm2d, batch statistics)"
    assert r.verdict_of("conv.weight", M).deviation <= r.verdict_of("conv.weight", M).tolerance
    assert r.verdict_of("conv.weight", C).deviation > 1e-3


def test_bias_free_conv_before_batch_norm_in_eval_mode() -> None:
    """With running statistics BN is a fixed affine map: nothing upstream is removed."""
    model, x = conv_bn(bias=False)
    r = scan(model, x, mode="eval")
    assert verdicts(r, "conv.weight") == (NOT, NOT, NOT)
    assert all(p.via is None for p in r.parameters if p.verdict == NOT)


def test_conv_bias_before_train_batch_norm_is_invariant_to_everything() -> None:
    """A per-channel constant is removed by BN's batch mean, whatever it is; and so the weight
    alone is scale-invariant even with a bias beside it."""
    model, x = conv_bn(bias=True)
    r = scan(model, x, mode="train")
    assert verdicts(r, "conv.bias") == (INV, INV, INV)
    assert verdicts(r, "conv.weight") == (INV, INV, NOT)
    assert not r.verdict_of("conv.bias", C).at_these_values_only
    # where each tensor alone is invariant no group is needed
    assert not [g for g in r.groups if g.names == ("conv.weight", "conv.bias") and g.transform in (M, V)]


class LinearLN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 6)
        self.ln = nn.LayerNorm(6)
        self.out = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(self.fc(x)))


def linear_ln() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(1)
    model = LinearLN()
    with torch.no_grad():  # generic, non-special values everywhere
        model.ln.weight.uniform_(0.5, 1.5)
        model.ln.bias.uniform_(-0.5, 0.5)
    return model, torch.randn(7, 5)


def test_linear_before_layer_norm_needs_its_bias_for_scale_invariance() -> None:
    """LN(δ(Wx + b)) = LN(Wx + b), but LN(δWx + b) is not (b ≠ 0): the weight alone is not
    scale-invariant, weight and bias together are; adding one vector to every row of W (and one
    constant to b) adds the same number to every unit of a token: LN's mean removes it."""
    model, x = linear_ln()
    r = scan(model, x)
    assert verdicts(r, "fc.weight") == (NOT, NOT, INV)
    assert verdicts(r, "fc.bias") == (NOT, NOT, INV)
    g = group(r, ("fc.weight", "fc.bias"), M)
    assert g.verdict == INV and g.via == "ln (LayerNorm, per-sample statistics)"
    assert group(r, ("fc.weight", "fc.bias"), V).verdict == NOT  # LN shares one scale across units
    assert r.verdict_of("fc.weight", C).via == "ln (LayerNorm, per-sample statistics)"
    # the LN's own gain and bias: not invariant to anything
    assert verdicts(r, "ln.weight") == (NOT, NOT, NOT)


def test_zero_bias_makes_the_weight_invariant_at_these_values_only() -> None:
    """With b = 0, LN(δWx) = LN(Wx): invariant at the model's values, not at generic ones."""
    model, x = linear_ln()
    with torch.no_grad():
        model.fc.bias.zero_()
    r = scan(model, x)
    p = r.verdict_of("fc.weight", M)
    assert p.verdict == INV and p.at_these_values_only
    assert "fc.bias = 0" in p.why
    # and the group is still found: the weight alone does not hold generically
    assert group(r, ("fc.weight", "fc.bias"), M).verdict == INV


class MLPBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.bn(torch.relu(self.fc1(x))))


def test_linear_before_relu_then_batch_norm_is_invariant_jointly() -> None:
    """relu(d_i (Wx + b)_i) = d_i relu(Wx + b)_i for d_i > 0, and train-mode BN removes each
    channel's factor: invariant to (W, b) per-unit rescaling together, to neither alone."""
    torch.manual_seed(2)
    model, x = MLPBN(), torch.randn(16, 4)
    r = scan(model, x, mode="train")
    assert verdicts(r, "fc1.weight")[:2] == (NOT, NOT)
    assert verdicts(r, "fc1.bias")[:2] == (NOT, NOT)
    for t in (M, V):
        g = group(r, ("fc1.weight", "fc1.bias"), t)
        assert g.verdict == INV, g.why
        assert g.via == "bn (BatchNorm1d, batch statistics)"
    assert group(r, ("fc1.weight", "fc1.bias"), C).verdict == NOT
    assert group(r, ("fc2.weight", "fc2.bias"), M).verdict == NOT
    eval_report = scan(model, x, mode="eval")
    assert group(eval_report, ("fc1.weight", "fc1.bias"), V).verdict == NOT


class Attention(nn.Module):
    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln(x)
        scores = self.q(h) @ self.k(h).transpose(-2, -1) / math.sqrt(h.shape[-1])
        return x + scores.softmax(-1) @ self.v(h)


def test_key_bias_is_invariant_to_everything_through_the_softmax() -> None:
    """q·(k_j + b) = q·k_j + q·b: any change of the key bias shifts all of a query's scores by the
    same amount, which softmax removes; the query bias is not (b·k_j differs per key), nor are
    the pre-LN gains (they scale q, k and v)."""
    torch.manual_seed(3)
    model, x = Attention(), torch.randn(2, 5, 8)
    r = scan(model, x)
    assert verdicts(r, "k.bias") == (INV, INV, INV)
    # the softmax runs in the model's own forward, no module of its own: no via, said in words
    assert r.verdict_of("k.bias", C).via is None
    assert "cancels inside the model" in r.verdict_of("k.bias", C).why
    assert verdicts(r, "q.bias") == (NOT, NOT, NOT)
    assert verdicts(r, "ln.weight") == (NOT, NOT, NOT)
    assert verdicts(r, "k.weight")[0] == NOT


def test_prenorm_example_block() -> None:
    """examples/scan_prenorm.py: the key bias invariant to all three, via the attention module;
    the LN biases (zero at init) invariant to rescaling at these values only."""
    from examples.scan_prenorm import build

    model, x = build(batch=2, tokens=5, dim=16)
    r = scan(model, x)
    assert verdicts(r, "attn.k_proj.bias") == (INV, INV, INV)
    assert r.verdict_of("attn.k_proj.bias", M).via == "attn (Attention, inside it: softmax over keys)"
    assert verdicts(r, "ln1.weight") == (NOT, NOT, NOT)
    assert verdicts(r, "ln1.bias") == (INV, INV, NOT)
    assert r.verdict_of("ln1.bias", M).at_these_values_only
    assert not r.verdict_of("attn.k_proj.bias", M).at_these_values_only


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.ln = nn.LayerNorm(6)
        self.head = nn.Linear(6, 4)
        self.unused = nn.Linear(3, 3)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        h = self.ln(self.emb(ids))
        return {"last_hidden_state": h, "logits": self.head(h)}


def test_token_ids_stay_integers_and_embedding_units_are_its_columns() -> None:
    """Embedding's output units are its hidden units (dim 1): recentering adds one constant per
    token to all its hidden units, which the LN after it removes; logits is the checked output;
    a module never called does not reach it."""
    torch.manual_seed(4)
    model = Tokens()
    ids = torch.randint(0, 11, (2, 7))
    r = scan(model, {"ids": ids, "mask": torch.ones(2, 7, dtype=torch.long)})
    assert r.verdict_of("emb.weight", C).verdict == INV
    assert r.verdict_of("emb.weight", M).verdict == INV  # LN removes the common factor too
    assert r.verdict_of("emb.weight", V).verdict == NOT
    assert verdicts(r, "head.weight") == (NOT, NOT, NOT)  # logits, not last_hidden_state
    unused = r.verdict_of("unused.weight", M)
    assert unused.verdict == INV and "does not reach the output" in unused.why and unused.via is None
    hidden = scan(model, {"ids": ids}, output="last_hidden_state")
    assert verdicts(hidden, "head.weight") == (INV, INV, INV)
    assert ids.dtype == torch.long


def test_model_and_running_statistics_left_untouched() -> None:
    """The scan works on a copy: parameters, buffers (running statistics, batches tracked),
    dtype and mode of the user's model are as before, bit for bit."""
    model, x = conv_bn(bias=True)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scan(model, x, mode="train")
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training and next(model.parameters()).dtype == torch.float32


def test_train_mode_freezes_the_copys_running_statistics() -> None:
    """Train mode uses batch statistics without moving the running ones: a second scan of the same
    model gives the same numbers (the copy's BN momentum is 0 and dropout is off)."""
    model, x = conv_bn(bias=False)
    model.bn.momentum = None  # cumulative average: would move with every pass
    model = nn.Sequential(nn.Dropout(0.5), model)
    a = scan(model, x, mode="train")
    b = scan(model, x, mode="train")
    assert [p.deviation for p in a.parameters] == [p.deviation for p in b.parameters]
    assert verdicts(a, "1.conv.weight") == (INV, INV, NOT)


def test_large_eps_breaks_an_invariance_small_eps_blurs_it() -> None:
    """LN(δWx) with eps: eps/var moves the sides apart. eps 1e-5 on unit-variance input: a blur
    (invariant up to eps, its effect reported); eps 100: it breaks it."""
    torch.manual_seed(5)
    for eps, expected in ((1e-5, INV), (100.0, NOT)):
        model = nn.Sequential(nn.Linear(5, 6, bias=False), nn.LayerNorm(6, eps=eps), nn.Linear(6, 2))
        r = scan(model, torch.randn(4, 5))
        p = r.verdict_of("0.weight", M)
        assert p.verdict == expected, p.why
        assert p.eps_effect is not None and p.eps_effect > 0
        if expected == NOT:
            assert "eps" in p.why


def test_output_axes() -> None:
    class Conv1D(nn.Module):  # transformers' layout: weight [in, out]
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(3, 5))

    class Raw(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos_embed = nn.Parameter(torch.zeros(1, 4, 6))

    assert unit_axis(nn.Linear(3, 5), nn.Linear(3, 5).weight) == 0
    assert unit_axis(nn.Conv2d(3, 5, 3), nn.Conv2d(3, 5, 3).weight) == 0
    assert unit_axis(Conv1D(), Conv1D().weight) == 1
    assert unit_axis(nn.Embedding(7, 4), nn.Embedding(7, 4).weight) == 1
    assert unit_axis(nn.ConvTranspose2d(3, 5, 3), nn.ConvTranspose2d(3, 5, 3).weight) == 1
    assert unit_axis(Raw(), Raw().pos_embed) == 2
    assert unit_axis(nn.LayerNorm(4), nn.LayerNorm(4).weight) == 0


def test_raw_positional_embedding_recentering_is_per_token() -> None:
    """pos_embed [1, N, D]: its units on the last axis; recentering adds one vector over tokens
    to every hidden unit, one constant per token: the LN after it removes it."""

    class WithPos(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos_embed = nn.Parameter(torch.randn(1, 5, 6))
            self.ln = nn.LayerNorm(6)
            self.head = nn.Linear(6, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.ln(x + self.pos_embed))

    torch.manual_seed(6)
    r = scan(WithPos(), torch.randn(3, 5, 6))
    assert verdicts(r, "pos_embed") == (NOT, NOT, INV)
    assert r.verdict_of("pos_embed", C).module_type == "WithPos"


def test_output_selection() -> None:
    y, z = torch.ones(2), torch.zeros(2)
    assert select_output(y, None) is y
    assert select_output({"last_hidden_state": z, "logits": y}, None) is y
    assert select_output({"hidden": z, "last_hidden_state": y}, None) is y
    assert select_output((None, z, y), None) is z
    assert select_output({"a": z, "b": y}, "b") is y
    with pytest.raises(InvcheckError, match=r"no field 'c'.*a, b"):
        select_output({"a": z, "b": y}, "c")


def test_inputs_from_a_shape_and_refusals() -> None:
    model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.LayerNorm(3))
    r = scan(model, input_shape=(5, 4))
    assert verdicts(r, "0.weight")[0] == INV
    with pytest.raises(InvcheckError, match="no inputs"):
        scan(model)
    with pytest.raises(InvcheckError, match="mode"):
        scan(model, input_shape=(5, 4), mode="training")
    with pytest.raises(InvcheckError, match="unknown transform"):
        scan(model, input_shape=(5, 4), transforms=["weight_rescale"])


def test_json_shape() -> None:
    model, x = conv_bn(bias=False)
    data = scan(model, x, mode="train", transforms=[M]).to_json()
    assert data["schema_version"] == 1 and data["mode"] == "train"
    first = data["parameters"][0]
    assert {"name", "shape", "transform", "verdict", "deviation", "tolerance", "why", "via"} <= set(first)
    assert first["name"] == "conv.weight" and first["shape"] == [4, 3, 3, 3]
    assert all(p["transform"] == M for p in data["parameters"])


class DropoutInside(nn.Module):
    """Attention code of transformers: the dropout probability read from a Dropout module, applied
    with the enclosing module's own training flag."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.drop = nn.Dropout(0.5)
        self.ln = nn.LayerNorm(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.dropout(self.fc(x), p=self.drop.p, training=self.training)
        return self.ln(h)


def test_train_mode_turns_dropout_off_also_where_its_probability_is_read() -> None:
    """Recentering fc adds one number to all units of a sample, which LN removes; a dropout mask
    would zero some of them (not removed): invariant only if dropout is really off."""
    torch.manual_seed(7)
    model = DropoutInside()
    r = scan(model, torch.randn(5, 4), mode="train")
    assert r.verdict_of("fc.weight", C).verdict == INV
    assert model.drop.p == 0.5 and model.training


def test_replaying_what_cannot_change_gives_the_full_passes_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay (calls that finished before the changed tensor's module first ran return their
    recorded outputs) must give every deviation bit for bit as full passes do; and it must replay."""
    from examples.scan_resnet import build
    from invcheck.scan import engine, passes

    model, x = build(batch=4, size=8, width=4)
    replayed = {"calls": 0}
    real_run = passes.Passes.run

    def counting(self: passes.Passes, *args: object, **kwargs: object) -> torch.Tensor:
        if kwargs.get("replay") is not None and self.replay_ok and kwargs.get("limit"):
            replayed["calls"] += 1
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(passes.Passes, "run", counting)
    fast = scan(model, x, mode="train")
    assert replayed["calls"] > 50

    def no_replay(self: engine._Scanner, base: object) -> None:
        self.passes.replay_ok = False

    monkeypatch.setattr(engine._Scanner, "_check_replay", no_replay)
    full = scan(model, x, mode="train")
    assert [(p.name, p.transform, p.deviation) for p in fast.parameters] == [
        (p.name, p.transform, p.deviation) for p in full.parameters
    ]
    assert [g.deviation for g in fast.groups] == [g.deviation for g in full.groups]


class ConvNeXtBlock(nn.Module):
    """A ConvNeXt stem and block: conv 4x4/4 -> LayerNorm over channels; depthwise conv 7x7 ->
    LayerNorm -> MLP, scaled by a layer-scale vector gamma, added to the input."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, stride=4)
        self.stem_norm = nn.LayerNorm(c)
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c)
        self.pw1, self.pw2 = nn.Linear(c, 2 * c), nn.Linear(2 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_norm(self.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.pw2(nn.functional.gelu(self.pw1(y)))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


def test_convnext_convolutions_are_scale_invariant_with_their_bias() -> None:
    """LN over channels after each conv: scaling a conv's output (weight and bias together) is
    removed, the weight alone is not (its bias stays); adding one filter to every channel of the
    stem adds one number per position to all channels (removed), of the depthwise conv not (each
    channel convolves its own input); gamma is 1-D, per element; a vector rescale is not removed
    (LN has one scale for all channels)."""
    torch.manual_seed(8)
    r = scan(ConvNeXtBlock(), torch.randn(2, 3, 16, 16))
    for conv in ("stem", "dwconv"):
        assert r.verdict_of(f"{conv}.weight", M).verdict == NOT
        assert group(r, (f"{conv}.weight", f"{conv}.bias"), M).verdict == INV
        assert group(r, (f"{conv}.weight", f"{conv}.bias"), V).verdict == NOT
        assert r.verdict_of(f"{conv}.bias", C).verdict == INV
    assert r.verdict_of("stem.weight", C).verdict == INV
    assert r.verdict_of("dwconv.weight", C).verdict == NOT
    assert verdicts(r, "gamma") == (NOT, NOT, NOT)
    assert group(r, ("stem.weight", "stem.bias"), M).via == "stem_norm (LayerNorm, per-position statistics)"


class TinyBranch(nn.Module):
    """x + 1e-6 * LN(W x): a residual branch whose LN sees a variance far below its eps."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6, bias=False)
        self.ln = nn.LayerNorm(6, eps=1e-3)
        with torch.no_grad():
            self.fc.weight.mul_(1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1e-6 * self.ln(self.fc(x))


def test_eps_is_judged_at_the_output_not_only_where_the_change_is_removed() -> None:
    """eps (1e-3) dwarfs the LN's input variance (~1e-6): scaling W moves the LN's output by far
    more than 1% with eps, but the branch is scaled by 1e-6: at the output eps moves the sides
    apart by ~1e-6 of it: invariant up to eps, as every check judges eps."""
    torch.manual_seed(9)
    r = scan(TinyBranch(), torch.randn(4, 6))
    p = r.verdict_of("fc.weight", M)
    assert p.verdict == INV, p.why
    assert p.eps_effect is not None and 0 < p.eps_effect < 1e-4
