"""User code by import path: right norms get the right rows, wrong ones are caught, bad code is one line."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from invcheck import names
from invcheck.draws import draw
from invcheck.errors import SpecError, UserCodeError
from invcheck.impls import user
from invcheck.impls.user_load import fill
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig

NORMS = '''
import torch
from torch import nn


class GoodLayerNorm(nn.Module):
    """LayerNorm over the units (dense) or channels and positions (conv), a per-channel gain."""

    def __init__(self, channels, eps=0.0):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.linspace(0.5, 2.0, channels))
        self.bias = nn.Parameter(torch.linspace(-1.0, 1.0, channels))

    def forward(self, a):
        dims = tuple(range(1, a.dim()))
        mu = a.mean(dims, keepdim=True)
        var = ((a - mu) ** 2).mean(dims, keepdim=True)
        shape = (1, -1) + (1,) * (a.dim() - 2)
        return self.weight.reshape(shape) * (a - mu) / torch.sqrt(var + self.eps) + self.bias.reshape(shape)


class WrongAxis(GoodLayerNorm):
    """Normalizes over the cases (axis 0), not the units: a BatchNorm by mistake."""

    def forward(self, a):
        mu = a.mean(0, keepdim=True)
        return (a - mu) / a.std(0, keepdim=True)


class Leaky(GoodLayerNorm):
    """A small input-dependent term slips past the normalization."""

    def forward(self, a):
        return super().forward(a) + 1e-3 * a


class WNLinear(nn.Module):
    """A dense layer under weight normalization: it owns W (the direction V) and the gain g."""

    def __init__(self, inputs, units):
        super().__init__()
        self.linear = nn.utils.parametrizations.weight_norm(nn.Linear(inputs, units))

    def forward(self, x):
        return self.linear(x)


def make_norm(channels):
    return GoodLayerNorm(channels)


def plain_function_factory():
    return lambda a: (a - a.mean(1, keepdim=True)) / a.std(1, keepdim=True)


class TwoArgs(nn.Module):
    def forward(self, a, mask):
        return a


class ReturnsTuple(nn.Module):
    def forward(self, a):
        return a, a


class WrongShape(nn.Module):
    def forward(self, a):
        return a[:, :1]


class WrongDtype(nn.Module):
    def forward(self, a):
        return a.float()


class WrongDevice(nn.Module):
    def forward(self, a):
        return a.to("meta")


class Raises(nn.Module):
    def forward(self, a):
        raise ValueError("kaboom")


class RandomInit(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels))

    def forward(self, a):
        mu = a.mean(1, keepdim=True)
        return self.weight * (a - mu) / a.std(1, keepdim=True)


norm_instance = GoodLayerNorm(16)
'''


def package_name(request: pytest.FixtureRequest) -> str:
    """Unique per test: imported modules are cached in sys.modules."""
    return "usr_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]


@pytest.fixture
def pkg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """Write a package with a module into tmp_path; returns its importable name (unique per test)."""
    name = package_name(request)

    def write(source: str = NORMS, module: str = "norms", extra: dict[str, str] | None = None) -> str:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
        for file, text in (extra or {}).items():
            (folder / file).write_text(textwrap.dedent(text))
        return f"{name}.{module}"

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]


def check(
    module: str, transform: str = "dataset_rescale", kind: str = "dense", **norm: object
) -> CheckConfig:
    norm.setdefault("kwargs", {"channels": "{channels}"})
    return CheckConfig(
        norm=NormConfig(id="custom", module=module, **norm),
        transform=TransformConfig(id=transform),
        layer=LayerConfig(kind=kind),
        trials=4,
        file="specs/user.yaml",
        line=7,
    )


def reference_row(norm: str, kind: str = "dense") -> list[str]:
    return [
        run_check(
            CheckConfig(
                norm=NormConfig(id=norm),
                transform=TransformConfig(id=t),
                layer=LayerConfig(kind=kind),
                trials=4,
            )
        ).verdict
        for t in names.PAPER_TRANSFORMS
    ]


def user_row(module: str, kind: str = "dense", **norm: object) -> list[str]:
    return [run_check(check(module, t, kind, **norm)).verdict for t in names.PAPER_TRANSFORMS]


# Right and wrong norms ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "conv", "conv1d"])  # channels first: [N, C, *positions]
def test_correct_layer_norm_gives_the_layer_norm_row(pkg: Callable[..., str], kind: str) -> None:
    mod = pkg()
    assert user_row(f"{mod}:GoodLayerNorm", kind) == reference_row("layer_norm", kind)


def test_factory_and_torch_class(pkg: Callable[..., str]) -> None:
    mod = pkg()
    row = reference_row("layer_norm")
    assert user_row(f"{mod}:make_norm") == row
    assert user_row("torch.nn:LayerNorm", kwargs={"normalized_shape": "{units}"}) == row
    assert run_check(check(f"{mod}:plain_function_factory", kwargs={})).verdict == "invariant"


@pytest.mark.parametrize(("name", "transform"), [("WrongAxis", "case_rescale"), ("Leaky", "dataset_rescale")])
def test_buggy_norm_is_caught(pkg: Callable[..., str], name: str, transform: str) -> None:
    mod = pkg()
    assert run_check(check(f"{mod}:GoodLayerNorm", transform)).verdict == "invariant"
    assert run_check(check(f"{mod}:{name}", transform)).verdict == "not_invariant"


def test_role_layer_weight_normed_linear(pkg: Callable[..., str]) -> None:
    mod = pkg()
    options = {
        "role": "layer",
        "weight": "linear.parametrizations.weight.original1",
        "kwargs": {"inputs": "{inputs}", "units": "{units}"},
    }
    assert user_row(f"{mod}:WNLinear", **options) == reference_row("weight_norm")


def test_gain_eps_and_instances(pkg: Callable[..., str]) -> None:
    """The tolerance sees the module's own gain and eps; one instance per trial, seeded."""
    mod = pkg()
    c = check(f"{mod}:GoodLayerNorm", kwargs={"channels": "{channels}", "eps": 1e-4})
    fwd = user.build(c, draw(c), torch.float64, torch.device("cpu"))
    torch.testing.assert_close(fwd.gain, torch.linspace(0.5, 2.0, 16, dtype=torch.float64).expand(4, 16))
    assert fwd.eps_info.value == 1e-4 and fwd.eps_info.source == "read from attribute `eps`"
    rms = check("torch.nn:RMSNorm", kwargs={"normalized_shape": "{units}"})
    assert (
        user.build(rms, draw(rms), torch.bfloat16, torch.device("cpu")).eps_info.value
        == torch.finfo(torch.float32).eps
    )
    rand = check(f"{mod}:RandomInit")
    gains = [user.build(rand, draw(rand), torch.float64, torch.device("cpu")).gain for _ in range(2)]
    torch.testing.assert_close(gains[0], gains[1])  # reproducible
    assert not torch.equal(gains[0][0].abs(), gains[0][1].abs())  # trials differ


def test_eval_mode_user_batch_norm() -> None:
    options = {"kwargs": {"num_features": "{units}"}}
    train = run_check(check("torch.nn:BatchNorm1d", **options))
    evaluated = run_check(check("torch.nn:BatchNorm1d", mode="eval", **options))
    assert (train.verdict, evaluated.verdict) == ("invariant", "not_invariant")


def test_working_directory_is_importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwdpkg_invcheck").mkdir()
    (tmp_path / "cwdpkg_invcheck" / "__init__.py").write_text("")
    (tmp_path / "cwdpkg_invcheck" / "norms.py").write_text(NORMS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert run_check(check("cwdpkg_invcheck.norms:GoodLayerNorm")).verdict == "invariant"
    finally:
        for mod in [m for m in sys.modules if m.startswith("cwdpkg_invcheck")]:
            del sys.modules[mod]


def test_placeholders() -> None:
    c = CheckConfig(layer=LayerConfig(kind="conv"))
    kwargs = {
        "a": "{units}",
        "b": ["{channels}", "{out_size}"],
        "c": "conv{kernel}",
        "d": 3,
        "e": {"f": "{inputs}"},
    }
    assert fill(c, kwargs) == {"a": 8, "b": [8, 6], "c": "conv3", "d": 3, "e": {"f": 4}}


# One-line errors ----------------------------------------------------------------------------------

PREFIX = r"^specs/user\.yaml:7: module '[\w.:]+': .*"


def raises(c: CheckConfig, pattern: str) -> str:
    with pytest.raises(UserCodeError, match=PREFIX + pattern) as info:
        run_check(c)
    text = str(info.value)
    assert "\n" not in text and info.value.__cause__ is None  # no "direct cause" chain
    assert info.value.__context__ is None or info.value.__suppress_context__  # nor "during handling"
    return text


@pytest.mark.parametrize(
    ("name", "options", "pattern"),
    [
        (
            "GoodLayerNorm",
            {"kwargs": {"chanels": 16}},
            r"GoodLayerNorm\(chanels=16\) failed: TypeError: .*chanels",
        ),
        (
            "GoodLayrNorm",
            {},
            r"'usr_\w+\.norms' has no attribute 'GoodLayrNorm' \(did you mean 'GoodLayerNorm'\?\)",
        ),
        ("TwoArgs", {"kwargs": {}}, r"is not callable with one tensor: its signature is \(a, mask\)"),
        (
            "ReturnsTuple",
            {"kwargs": {}},
            r"it returned a tuple, not a tensor \(return the output tensor alone\)",
        ),
        ("WrongShape", {"kwargs": {}}, r"returned shape \[16, 1\], expected \[16, 16\]"),
        ("WrongDtype", {"kwargs": {}}, r"returned torch\.float32, expected torch\.float64"),
        ("WrongDevice", {"kwargs": {}}, r"returned a tensor on meta, expected cpu"),
        ("Raises", {"kwargs": {}}, r"raised ValueError: kaboom \(at usr_\w+/norms\.py:\d+\)"),
        ("norm_instance", {"kwargs": {}}, r"names a GoodLayerNorm object, not a class or a factory function"),
        ("plain_function_factory", {"kwargs": {}, "role": "layer"}, r"role 'layer' needs an nn\.Module"),
        (
            "WNLinear",
            {
                "role": "layer",
                "kwargs": {"inputs": "{inputs}", "units": "{units}"},
                "weight": "linear.weight",
            },
            r"has no parameter 'linear\.weight' \('linear\.weight' is computed by a parametrization; .*original1",
        ),
        (
            "WNLinear",
            {"role": "layer", "kwargs": {"inputs": "{inputs}", "units": "{units}"}, "weight": "lin.w"},
            r"has no parameter 'lin\.w' \(its parameters: linear\.bias, .*original0",
        ),
        (
            "WNLinear",
            {
                "role": "layer",
                "kwargs": {"inputs": "{units}", "units": "{units}"},
                "weight": "linear.parametrizations.weight.original1",
            },
            r"parameter '.*original1' has shape \[16, 16\], but W is \[16, 32\]",
        ),
    ],
)
def test_user_code_errors(pkg: Callable[..., str], name: str, options: dict, pattern: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(Path(sys.path[0]))  # paths shown relative to the working directory
        raises(check(f"{pkg()}:{name}", **options), pattern)


@pytest.mark.parametrize(
    ("files", "pattern"),
    [
        ({}, r"no module named 'usr_\w+' \(looked in the working directory"),
        ({"norms.py": "def broken(:\n    pass\n"}, r"syntax error in .*norms\.py:1: "),
        (
            {"norms.py": "import not_a_real_dependency_xyz\n"},
            r"importing 'usr_\w+\.norms' failed: ModuleNotFoundError: .*not_a_real_dependency_xyz.* \(at .*norms\.py:1\)",
        ),
        (
            {"norms.py": "raise RuntimeError('bad config')\n"},
            r"importing 'usr_\w+\.norms' raised RuntimeError: bad config",
        ),
    ],
)
def test_import_errors(
    pkg: Callable[..., str], request: pytest.FixtureRequest, files: dict, pattern: str
) -> None:
    if files:
        module = pkg(files["norms.py"])
    else:
        module = package_name(request) + ".norms"  # never written
    raises(check(f"{module}:Anything"), pattern)


def test_an_eps_attr_the_layer_lacks_is_refused() -> None:
    c = check("torch.nn:LayerNorm", kwargs={"normalized_shape": "{units}"}, eps_attr="epsilon")
    with pytest.raises(UserCodeError, match="has no eps attribute 'epsilon'"):
        run_check(c)


def test_an_unknown_placeholder_is_refused_before_any_import(pkg: Callable[..., str]) -> None:
    with pytest.raises(
        SpecError,
        match=r"^specs/user\.yaml:7: kwargs: unknown placeholder '\{unit\}'.*did you mean '\{units\}'",
    ):
        run_check(check(f"{pkg()}:GoodLayerNorm", kwargs={"channels": "{unit}"}))


@pytest.mark.parametrize("eps", [float("nan"), float("inf"), -1e-5])
def test_an_eps_read_from_the_layer_must_be_a_number_a_norm_adds(eps: float) -> None:
    """A NaN eps (a partial's keyword) made every output NaN, yet the check read invariant."""
    import functools

    import torch.nn.functional as F

    from invcheck import api
    from invcheck.errors import UserCodeError

    layer = functools.partial(F.layer_norm, normalized_shape=(16,), eps=eps)
    with pytest.raises(UserCodeError, match="read from keyword `eps`\\): an eps must be finite and >= 0"):
        api.invariance_error(layer, "dataset_rescale", trials=2)


def test_a_partials_eps_is_named_a_keyword_not_an_attribute() -> None:
    import functools

    import torch.nn.functional as F

    from invcheck import api

    given = functools.partial(F.layer_norm, normalized_shape=(16,), eps=1e-4)
    default = functools.partial(F.layer_norm, normalized_shape=(16,))
    assert api.invariance_error(given, "dataset_rescale", trials=2).why.endswith("(read from keyword `eps`)")
    assert api.invariance_error(default, "dataset_rescale", trials=2).why.endswith(
        "eps 1e-05 (read from keyword `eps`'s default)"
    )
