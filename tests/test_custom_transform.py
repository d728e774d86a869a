"""Transforms of the user's own: (X, W, generator) -> (X', W'), judged as the built-in ones."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from invcheck import names
from invcheck.api import check, invariance_error
from invcheck.cli import app
from invcheck.errors import InvcheckError, UserCodeError
from invcheck.settings import CheckConfig, TransformConfig
from invcheck.transforms import Transform, transform_of

HERE = Path(__file__).parent
MODULE = "tests.transforms.user_transforms"


def cli(*args: str) -> tuple[int, str]:
    """An invcheck command in this process: its exit status as `invcheck` gives it, and its output
    with an error's one line (which `invcheck` prints on stderr)."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, InvcheckError):
        return result.exception.exit_code, result.output + f"error: {result.exception}"
    return result.exit_code, result.output


def user_rescale(x: torch.Tensor, w: torch.Tensor, generator: torch.Generator) -> tuple:
    """dataset_rescale as a user writes it: one random δ in [0.1, 10] for all of X."""
    u = torch.rand((), generator=generator, dtype=torch.float64)
    return torch.exp(math.log(0.1) + (math.log(10.0) - math.log(0.1)) * u) * x, w


@pytest.mark.parametrize("layer", ["dense", "conv"])
@pytest.mark.parametrize("norm", names.NORMS)
def test_a_user_dataset_rescale_gets_the_builtins_verdict(norm: str, layer: str) -> None:
    from invcheck.norms import get_norm

    for eps in (0.0, 1e-5) if get_norm(norm).has_eps else (0.0,):
        mine = invariance_error(norm, user_rescale, layer, eps=eps, trials=4)
        builtin = invariance_error(norm, "dataset_rescale", layer, eps=eps, trials=4)
        assert (mine.verdict, mine.bound) == (builtin.verdict, builtin.bound), (eps, mine.why, builtin.why)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_judged_in_low_precision_with_measured_noise_as_the_builtin(dtype: str) -> None:
    for norm in ("layer_norm", "rms_norm", "batch_norm"):
        mine = invariance_error(norm, user_rescale, dtype=dtype, eps=1e-5, trials=4)
        builtin = invariance_error(norm, "dataset_rescale", dtype=dtype, eps=1e-5, trials=4)
        assert mine.verdict == builtin.verdict == "invariant"


def test_a_permutation_and_a_sign_flip() -> None:
    def permute_inputs(x, w, generator):  # the same permutation of X's features and W's columns: a unchanged
        p = torch.randperm(x.shape[1], generator=generator)
        return x[:, p], w[:, p]

    def permute_units(x, w, generator):  # W's rows (the units) reordered: y reordered
        return x, w[torch.randperm(w.shape[0], generator=generator)]

    for norm in ("layer_norm", "batch_norm", "weight_norm", "rms_norm", "group_norm"):
        assert invariance_error(norm, permute_inputs).verdict == "invariant"
        assert invariance_error(norm, permute_units).verdict == "not_invariant"
    flip = lambda x, w, generator: (x, -w)  # noqa: E731
    assert invariance_error("layer_norm", flip).verdict == "not_invariant"
    assert invariance_error("batch_norm", lambda x, w, g: (-x, w)).verdict == "not_invariant"


def test_a_transform_that_leaves_an_input_alone_returns_it_and_it_stays_the_same_tensor() -> None:
    cfg = check("layer_norm", user_rescale).transform
    x, w = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 2, 5, dtype=torch.float64)
    x2, w2 = transform_of(cfg, CheckConfig(transform=cfg)).apply(
        x, w, cfg, torch.Generator().manual_seed(0), None
    )
    assert w2 is w and x2.shape == x.shape and not torch.equal(x2, x)
    assert (
        isinstance(transform_of(cfg, CheckConfig(transform=cfg)), Transform)
        and transform_of(cfg, CheckConfig(transform=cfg)).params == ()
    )


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda x, w, g: x, r"returned a Tensor: return the pair \(X', W'\)$"),
        (lambda x, w, g: (x, w, w), r"returned a tuple of 3: return the pair"),
        (lambda x, w, g: (x[:2], w), r"returned X' of shape \[2, 32\], expected \[16, 32\]$"),
        (lambda x, w, g: (x, w.long()), r"returned W' as torch.int64, not a floating dtype$"),
        (lambda x, w, g: (x, 3.0), r"returned W' as a float, not a tensor$"),
        (
            lambda x, w, g: 1 / 0,
            r"raised ZeroDivisionError: division by zero \(at tests/test_custom_transform.py:\d+\)$",
        ),
    ],
)
def test_a_bad_transform_is_one_line(fn, message: str) -> None:
    with pytest.raises(UserCodeError, match=message) as info:
        invariance_error("layer_norm", fn)
    assert len(str(info.value).splitlines()) == 1 and str(info.value).startswith("transform '<lambda>")


def test_a_scale_keyword_gets_the_checks_range_and_makes_it_sweepable() -> None:
    seen = []

    def rescale(x, w, generator, scale):
        seen.append(scale)
        return scale[0] * x, w

    assert invariance_error("layer_norm", rescale, scale=(2.0, 2.0)).verdict == "invariant"
    assert seen[-1] == (2.0, 2.0) and transform_of(
        check("layer_norm", rescale).transform, check("layer_norm", rescale)
    ).params == ("scale",)
    with pytest.raises(UserCodeError, match="scale is set, but the function takes no `scale` keyword"):
        invariance_error("layer_norm", user_rescale, scale=(2.0, 3.0))
    with pytest.raises(UserCodeError, match="negative is set"):
        invariance_error("layer_norm", rescale, negative=True)


# Specs and the command line ------------------------------------------------------------------------


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_spec_transform_by_module_and_kwargs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE.parent)  # the tests package is importable from the project's root
    spec = _spec(
        tmp_path,
        f"""\
        checks:
          - {{norm: layer_norm, transform: {{module: "{MODULE}:rescale"}}, expect: invariant}}
          - {{norm: layer_norm, transform: {{module: "{MODULE}:shift_by", kwargs: {{amount: 3.0}}, id: shift}}, expect: not_invariant}}
          - {{norm: weight_norm, transform: {{module: "{MODULE}:rescale", scale: [0.5, 2]}}, expect: not_invariant}}
        """,
    )
    code, out = cli("run", str(spec))
    assert code == 2 and "would import and run user code; pass --allow-import" in out
    code, out = cli("run", str(spec), "--allow-import", "-f", "json")
    assert code == 0, out
    assert '"transform": "shift"' in out and f'"transform": "{MODULE}:rescale"' in out


def test_a_spec_transform_is_validated_as_the_spec_is(tmp_path: Path) -> None:
    for text, message in [
        ("norm: layer_norm\ntransform: {kwargs: {a: 1}}\n", "transform names neither an id nor a module"),
        (
            "norm: layer_norm\ntransform: {id: dataset_rescale, kwargs: {a: 1}}\n",
            "kwargs applies only to a 'module:' transform",
        ),
        ("norm: layer_norm\ntransform: {module: not a path}\n", "is not an import path"),
    ]:
        code, out = cli("validate", str(_spec(tmp_path, text)))
        assert code == 2 and message in out, out


def test_explain_and_sweep_show_a_custom_transform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE.parent)
    spec = _spec(
        tmp_path, f'norm: {{id: layer_norm, eps: 1.0e-5}}\ntransform: {{module: "{MODULE}:rescale"}}\n'
    )
    assert cli("explain", str(spec))[0] == 2  # user code: imported with permission only
    code, out = cli("explain", str(spec), "--allow-import")
    assert code == 0, out
    assert "deviation" in out and "user code: explained by its numbers" in out
    sweep = ["sweep", str(spec), "--allow-import", "--low", "0.001", "--high", "10", "--per-decade", "1"]
    code, out = cli(*sweep, "-f", "json")
    assert code == 0, out
    assert '"verdict": "not_invariant"' in out and '"verdict": "invariant"' in out  # eps breaks it at 0.001


def test_a_builtin_id_is_still_looked_up_by_id() -> None:
    assert transform_of(TransformConfig("case_rescale")).id == "case_rescale"


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("norm: layer_norm\ntransform: {module: 'm:f', kwargs: {a: 1}, scale: [0.5, 2], id: mine}\n", True),
        ("norm: layer_norm\ntransform: {module: 'm:f', shift: 0.5}\n", True),
        ("norm: layer_norm\ntransform: {id: dataset_rescale, kwargs: {a: 1}}\n", False),
        ("norm: layer_norm\ntransform: {module: 'not a path'}\n", False),
        ("norm: layer_norm\ntransform: {id: dataset_rescale, shift: 0.5}\n", False),
    ],
)
def test_the_json_schema_reads_a_module_transform_as_the_loader_does(text: str, valid: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from invcheck import spec
    from invcheck.errors import SpecError
    from invcheck.schema import spec_schema

    found = list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(yaml.safe_load(text)))
    assert (found == []) is valid
    if valid:
        assert spec.load_text(text)
    else:
        with pytest.raises(SpecError):
            spec.load_text(text)
