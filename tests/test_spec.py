"""YAML specs -> CheckConfigs, and every spec error located at file:line with the bad value."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from invcheck import names, rules, spec
from invcheck.errors import SpecError
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.spec import discover, load_file, load_specs, load_text, validate

TABLE_1 = """\
matrix:
  layer: dense
  transforms: [weight_matrix_rescale, weight_matrix_recenter, weight_vector_rescale,
               dataset_rescale, dataset_recenter, case_rescale]
  expect:
    batch_norm:  [invariant, not_invariant, invariant, invariant, invariant, not_invariant]
    layer_norm:  [invariant, invariant, not_invariant, invariant, not_invariant, invariant]
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def one_check(row: str) -> tuple[str, int]:
    """A valid one-check spec with `row` added (or replacing its norm/transform), and the row's line."""
    rows = {"norm": "norm: layer_norm", "transform": "transform: case_rescale"}
    key = row.split(":")[0]
    rows[key] = row
    return "\n".join(rows.values()) + "\n", list(rows).index(key) + 1


def load(tmp_path: Path, text: str) -> list[CheckConfig]:
    return load_file(write(tmp_path, text))


def error(tmp_path: Path, text: str) -> tuple[Path, str]:
    """The spec's path and its first error, as the CLI would print it."""
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_file(path)
    return path, str(info.value)


def assert_error(tmp_path: Path, text: str, line: int | None, *parts: str) -> None:
    path, message = error(tmp_path, text)
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: "), message
    assert "\n" not in message
    for part in parts:
        assert part in message, message


# Loading -------------------------------------------------------------------------------------


def test_single_check_at_top_level(tmp_path: Path) -> None:
    (check,) = load(
        tmp_path,
        """\
        # the paper's setting
        norm: layer_norm
        transform: dataset_rescale
        trials: 4
        expect: invariant
    """,
    )
    assert check == CheckConfig(
        norm=NormConfig(id="layer_norm"),
        transform=TransformConfig(id="dataset_rescale"),
        trials=4,
        expect="invariant",
        file=str(tmp_path / "spec.yaml"),
        line=2,
    )
    assert check.name is None


def test_checks_list_with_every_key(tmp_path: Path) -> None:
    first, second = load(
        tmp_path,
        """\
        checks:
          - name: gn in conv
            norm: {id: group_norm, groups: 4, eps: 1.0e-5, impl: torch}
            transform: {id: case_rescale, scale: [0.5, 2], negative: true}
            layer: {kind: conv, cases: 8, in_channels: 3, out_channels: 8, kernel: 3, size: 5, padding: 1}
            trials: 3
            seed: 7
            dtype: float32
            device: auto
            tf32: true
            tolerance: 0.001
            expect: not_invariant
          - {norm: batch_norm, transform: dataset_recenter, layer: {units: 4, inputs: 2, cases: 3}}
    """,
    )
    assert first.name == "gn in conv" and first.line == 2 and second.line == 13
    assert first.norm == NormConfig(id="group_norm", groups=4, eps=1e-5, impl="torch")
    assert first.transform == TransformConfig(id="case_rescale", scale=(0.5, 2.0), negative=True)
    assert first.layer == LayerConfig(
        kind="conv", cases=8, in_channels=3, out_channels=8, kernel=3, size=5, padding=1
    )
    assert (first.trials, first.seed, first.dtype, first.device, first.tf32) == (
        3,
        7,
        "float32",
        "auto",
        True,
    )
    assert (first.tolerance, first.expect) == (0.001, "not_invariant")
    assert second.layer == LayerConfig(units=4, inputs=2, cases=3)


def test_numeric_text_is_accepted_where_floats_are_expected(tmp_path: Path) -> None:
    (check,) = load(
        tmp_path,
        """\
        norm: {id: batch_norm, eps: 1e-5, mode: eval, momentum: 1}
        transform: {id: dataset_rescale, scale: [1e-1, 1e1]}
        tolerance: 1e-3
    """,
    )
    assert check.norm.eps == 1e-5 and check.tolerance == 1e-3 and check.transform.scale == (0.1, 10.0)
    assert isinstance(check.norm.momentum, float)
    (shifted,) = load(tmp_path, "norm: layer_norm\ntransform: {id: dataset_recenter, shift: 2e0}\n")
    assert isinstance(shifted.transform.shift, float) and shifted.transform.shift == 2.0


@pytest.mark.parametrize(("text", "trials"), [("1e3", 1000), ("1e5", 100000), ("80e-1", 8), ("1.0e3", 1000)])
def test_an_integral_number_in_exponent_notation_is_an_integer(
    tmp_path: Path, text: str, trials: int
) -> None:
    (check,) = load(tmp_path, f"norm: layer_norm\ntransform: dataset_rescale\ntrials: {text}\n")
    assert check.trials == trials and isinstance(check.trials, int)


def test_a_fractional_number_in_exponent_notation_is_refused_as_trials(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"trials must be an integer in \[1, 100000\], got 2.5"):
        load(tmp_path, "norm: layer_norm\ntransform: dataset_rescale\ntrials: 2.5e0\n")


def test_defaults_apply_and_the_check_wins(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        defaults:
          dtype: float32
          trials: 2
          impl: torch
          norm: {eps: 1.0e-5}
          layer: {kind: conv, size: 10, out_channels: 8}
        checks:
          - {norm: {id: group_norm, groups: 4}, transform: dataset_rescale}
          - {norm: {id: layer_norm, eps: 0}, transform: dataset_rescale, trials: 5, layer: conv}
          - {norm: layer_norm, transform: dataset_rescale, layer: {size: 12}}
          - {norm: layer_norm, transform: dataset_rescale, layer: {kind: dense, units: 6}}
    """,
    )
    assert [c.dtype for c in checks] == ["float32"] * 4
    assert [c.trials for c in checks] == [2, 5, 2, 2]
    assert checks[0].norm == NormConfig(id="group_norm", eps=1e-5, groups=4, impl="torch")
    assert checks[1].norm.eps == 0.0 and checks[1].norm.impl == "torch"
    assert checks[1].layer == LayerConfig(kind="conv", size=10, out_channels=8)
    assert checks[2].layer == LayerConfig(kind="conv", size=12, out_channels=8)
    assert checks[3].layer == LayerConfig(kind="dense", units=6)  # the conv defaults are dropped


def test_module_norm(tmp_path: Path) -> None:
    (check,) = load(
        tmp_path,
        """\
        norm:
          module: "mypkg.norms:MyNorm"
          kwargs: {features: "{units}", sizes: [1, 2], nested: {a: 1}}
          role: layer
          weight: linear.weight
          mode: eval
        transform: weight_vector_rescale
    """,
    )
    norm = check.norm
    assert (norm.id, norm.module, norm.role, norm.weight, norm.mode) == (
        "custom",
        "mypkg.norms:MyNorm",
        "layer",
        "linear.weight",
        "eval",
    )
    assert norm.kwargs == {"features": "{units}", "sizes": [1, 2], "nested": {"a": 1}}
    assert type(norm.kwargs) is dict and type(norm.kwargs["nested"]) is dict


def test_load_text() -> None:
    (check,) = load_text("norm: rms_norm\ntransform: case_rescale\n", "inline.yaml")
    assert (check.norm.id, check.file, check.line) == ("rms_norm", "inline.yaml", 1)


# Matrices ------------------------------------------------------------------------------------


def test_matrix_expands_in_order_with_names_and_lines(tmp_path: Path) -> None:
    checks = load(tmp_path, TABLE_1)
    assert len(checks) == 12
    assert [(c.norm.id, c.transform.id) for c in checks[:7]] == [
        *(("batch_norm", t) for t in names.PAPER_TRANSFORMS),
        ("layer_norm", "weight_matrix_rescale"),
    ]
    assert [c.expect for c in checks[:6]] == [
        "invariant",
        "not_invariant",
        "invariant",
        "invariant",
        "invariant",
        "not_invariant",
    ]
    assert checks[0].name == "dense/batch_norm/weight_matrix_rescale"
    assert checks[-1].name == "dense/layer_norm/case_rescale"
    assert [c.line for c in checks] == [6] * 6 + [7] * 6
    assert {c.file for c in checks} == {str(tmp_path / "spec.yaml")}


def test_matrix_block_rows_give_each_cell_its_line(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          transforms: [dataset_rescale, case_rescale]
          expect:
            rms_norm:
              - invariant
              - invariant
    """,
    )
    assert [(c.transform.id, c.line) for c in checks] == [("dataset_rescale", 5), ("case_rescale", 6)]


def test_matrix_by_layer(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          layers: [dense, conv]
          layer: {size: 6, units: 4}
          transforms: [dataset_rescale, case_rescale]
          expect:
            dense: {layer_norm: [invariant, invariant]}
            conv:
              group_norm: [invariant, invariant]
              instance_norm: [invariant, invariant]
    """,
    )
    assert [c.name for c in checks] == [
        "dense/layer_norm/dataset_rescale",
        "dense/layer_norm/case_rescale",
        "conv/group_norm/dataset_rescale",
        "conv/group_norm/case_rescale",
        "conv/instance_norm/dataset_rescale",
        "conv/instance_norm/case_rescale",
    ]
    assert checks[0].layer == LayerConfig(kind="dense", units=4)
    assert checks[2].layer == LayerConfig(kind="conv", size=6)
    assert [c.line for c in checks] == [6, 6, 8, 8, 9, 9]


def test_matrix_mapping_row_checks_only_its_cells(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          expect:
            weight_norm: {case_rescale: not_invariant, weight_matrix_rescale: invariant}
    """,
    )
    assert [(c.transform.id, c.expect) for c in checks] == [
        ("weight_matrix_rescale", "invariant"),
        ("case_rescale", "not_invariant"),
    ]


def test_matrix_norms_without_expectations_and_options_for_every_cell(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        defaults: {trials: 3}
        matrix:
          norms:
            - layer_norm
            - rms_norm
          dtype: float32
          norm: {eps: 1e-5}
    """,
    )
    assert len(checks) == 12
    assert {(c.expect, c.dtype, c.trials, c.norm.eps) for c in checks} == {(None, "float32", 3, 1e-5)}
    assert [c.line for c in checks] == [4] * 6 + [5] * 6


def test_matrix_of_one_module_norm_with_one_row(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          norm: {module: "pkg.mod:Norm"}
          transforms: [dataset_rescale, case_rescale]
          expect: [invariant, not_invariant]
    """,
    )
    assert [c.name for c in checks] == [
        "dense/pkg.mod:Norm/dataset_rescale",
        "dense/pkg.mod:Norm/case_rescale",
    ]
    assert [c.expect for c in checks] == ["invariant", "not_invariant"]


def test_matrix_null_verdict_expects_nothing(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          layers: [dense, conv]
          transforms: [case_rescale, dataset_rescale]
          expect:
            dense: {layer_norm: [~, invariant]}
            conv: {layer_norm: [invariant, ~]}
    """,
    )
    assert [(c.layer.kind, c.expect) for c in checks] == [
        ("dense", None),
        ("dense", "invariant"),
        ("conv", "invariant"),
        ("conv", None),
    ]


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        defaults: &base {norm: layer_norm, transform: case_rescale, trials: 2}
        checks:
          - {<<: *base, trials: 3}
          - *base
    """,
    )
    assert [c.trials for c in checks] == [3, 2]


def test_list_of_matrices(tmp_path: Path) -> None:
    checks = load(
        tmp_path,
        """\
        matrix:
          - {layer: dense, transforms: [dataset_rescale], norms: [layer_norm]}
          - {layer: conv, transforms: [dataset_rescale], norms: [instance_norm]}
    """,
    )
    assert [c.name for c in checks] == [
        "dense/layer_norm/dataset_rescale",
        "conv/instance_norm/dataset_rescale",
    ]


# Errors: YAML --------------------------------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    assert_error(
        tmp_path, "norm: layer_norm\ntransform: [dataset_rescale\ntrials: 3\n", 3, "YAML syntax error"
    )


def test_unsafe_tags_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"norm: layer_norm\ntransform: !!python/object/apply:os.system ['touch {marker}']\n"
    assert_error(tmp_path, text, 2, "!!python/object/apply:os.system", "safe")
    assert not marker.exists()


def test_duplicate_key_points_at_the_second(tmp_path: Path) -> None:
    text = "norm: layer_norm\ntransform: case_rescale\nnorm: rms_norm\n"
    assert_error(tmp_path, text, 3, "duplicate key 'norm' (first at line 1)")


@pytest.mark.parametrize(
    ("text", "line", "part"),
    [
        ("", None, "empty"),
        ("# nothing but a comment\n", None, "empty"),
        ("- norm: layer_norm\n", 1, "not a mapping"),
        ("defaults: {trials: 2}\n", 1, "no checks"),
        ("checks: []\n", 1, "non-empty list"),
    ],
)
def test_files_without_checks(tmp_path: Path, text: str, line: int | None, part: str) -> None:
    assert_error(tmp_path, text, line, part)


# Errors: keys and ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "bad", "suggestion"),
    [
        ("chekcs:\n  - {norm: layer_norm, transform: case_rescale}\n", 1, "'chekcs'", "'checks'"),
        ("checks:\n  - norm: layer_norm\n    transfrom: case_rescale\n", 3, "'transfrom'", "'transform'"),
        ("norm: {id: layer_norm, epsilon: 0}\ntransform: case_rescale\n", 1, "'epsilon'", "'eps'"),
        ("norm: layer_norm\ntransform: {id: case_rescale, scales: [1, 2]}\n", 2, "'scales'", "'scale'"),
        (
            "norm: layer_norm\ntransform: case_rescale\nlayer:\n  kind: conv\n  kernal: 3\n",
            5,
            "'kernal'",
            "'kernel'",
        ),
        ("defaults:\n  trails: 3\nnorm: layer_norm\ntransform: case_rescale\n", 2, "'trails'", "'trials'"),
        ("matrix:\n  norms: [layer_norm]\n  transfroms: [case_rescale]\n", 3, "'transfroms'", "'transforms'"),
    ],
)
def test_unknown_keys_at_every_level(tmp_path: Path, text: str, line: int, bad: str, suggestion: str) -> None:
    assert_error(tmp_path, text, line, f"unknown key {bad}", f"did you mean {suggestion}?")


@pytest.mark.parametrize(
    ("key_text", "bad", "suggestion"),
    [
        ("norm: layer_nrom", "unknown norm 'layer_nrom'", "'layer_norm'"),
        ("transform: dataset_rescal", "unknown transform 'dataset_rescal'", "'dataset_rescale'"),
        ("layer: dens", "unknown layer 'dens'", "'dense'"),
        ("dtype: float23", "unknown dtype 'float23'", "'float32'"),
        ("device: cuad", "unknown device 'cuad'", "'cuda'"),
        ("device: gpu", "unknown device 'gpu'", "'cuda'"),  # not 'cpu', the closest spelling
        ("expect: invarient", "unknown verdict 'invarient'", "'invariant'"),
        ("impl: troch", "unknown impl 'troch'", "'torch'"),
        ("norm: {id: batch_norm, mode: evl}", "unknown mode 'evl'", "'eval'"),
    ],
)
def test_unknown_ids(tmp_path: Path, key_text: str, bad: str, suggestion: str) -> None:
    assert_error(tmp_path, *one_check(key_text), bad, f"did you mean {suggestion}?")


@pytest.mark.parametrize(("written", "read"), [("yes", "true"), ("Off", "false")])
def test_a_yaml_boolean_where_a_verdict_goes_says_what_yaml_read(
    tmp_path: Path, written: str, read: str
) -> None:
    # `expect: yes` said only "unknown verdict true": a value the user never wrote
    message = f"unknown verdict {read}: YAML reads an unquoted "
    assert_error(
        tmp_path, *one_check(f"expect: {written}"), message, f" {written.lower()}, ", "one of: invariant"
    )


def test_unknown_id_without_a_close_match_lists_the_choices(tmp_path: Path) -> None:
    assert_error(
        tmp_path,
        "norm: layer_norm\ntransform: case_rescale\ndtype: int8\n",
        3,
        "unknown dtype 'int8'",
        "expected one of: float64, float32, float16, bfloat16",
    )


def test_check_needs_a_norm_and_a_transform(tmp_path: Path) -> None:
    assert_error(tmp_path, "checks:\n  - trials: 2\n    transform: case_rescale\n", 2, "check has no norm")


def test_top_level_check_keys_beside_checks(tmp_path: Path) -> None:
    text = "trials: 3\nchecks:\n  - {norm: layer_norm, transform: case_rescale}\n"
    assert_error(tmp_path, text, 1, "'trials'", "move it under 'defaults:'")


def test_name_belongs_to_a_check_not_to_defaults(tmp_path: Path) -> None:
    text = "defaults: {name: x}\nnorm: layer_norm\ntransform: case_rescale\n"
    assert_error(tmp_path, text, 1, "unknown key 'name' in defaults")


# Errors: values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_text", "parts"),
    [
        ("trials: true", ("trials must be an integer in [1, 100000]", "got true")),
        ("trials: 2.5", ("trials must be an integer", "got 2.5")),
        ("trials: 0", ("trials must be an integer in [1, 100000]", "got 0")),
        ("seed: -1", ("seed must be an integer in [0,", "got -1")),
        ("tf32: maybe", ("tf32 must be true or false", "'maybe'")),
        ("tolerance: 0", ("tolerance must be a number in (0, 1000]", "got 0")),
        ("tolerance: lots", ("tolerance must be a number in (0, 1000]", "'lots'")),
        ("tolerance: .nan", ("tolerance must be a number", "got nan")),
        ("name: 3", ("name must be non-empty text", "got 3")),
        ("norm: {id: layer_norm, eps: -1.0e-5}", ("eps must be a number in [0, 1000]", "-1e-05")),
        ("norm: {id: layer_norm, eps: 1e-x}", ("eps must be a number in [0, 1000]", "'1e-x'")),
        ("norm: {id: group_norm, groups: 0}", ("groups must be an integer in [1,", "got 0")),
        ("norm: {id: batch_norm, momentum: 2}", ("momentum must be a number in [0, 1]", "got 2")),
        ("norm: 3", ("norm must be an id or a mapping", "got 3")),
        (
            "transform: {id: case_rescale, scale: [0, 1]}",
            ("scale must be [low, high] with 0 < low <= high", "[0, 1]"),
        ),
        ("transform: {id: case_rescale, scale: [2, 1]}", ("0 < low <= high", "[2, 1]")),
        (
            "transform: {id: case_rescale, scale: [0.1, .inf]}",
            ("scale must be [low, high] of finite numbers", "[0.1, inf]"),
        ),
        ("transform: {id: case_rescale, scale: 2}", ("scale must be [low, high]", "got 2")),
        (
            "transform: {id: dataset_recenter, shift: -1}",
            ("shift must be a number in [0.001, 1e+06]", "got -1"),
        ),
        ("transform: {id: case_rescale, negative: 1}", ("negative must be true or false", "got 1")),
        ("layer: {cases: 0}", ("cases must be an integer in [1,", "got 0")),
        ("layer: {units: -4}", ("units must be an integer in [1,", "got -4")),
        ("layer: {kind: conv, size: 0}", ("size must be an integer in [1,", "got 0")),
        ("layer: {kind: conv, padding: -1}", ("padding must be an integer in [0, 1024]", "got -1")),
        (
            "layer: {kind: conv, kernel: 5, size: 4, padding: 0}",
            ("kernel 5 does not fit in size 4 + 2 * padding 0",),
        ),
        ("layer: {kind: dense, kernel: 3}", ("'kernel' is not a dense layer key", "cases, inputs, units")),
    ],
)
def test_bad_values(tmp_path: Path, key_text: str, parts: tuple[str, ...]) -> None:
    assert_error(tmp_path, *one_check(key_text), *parts)


def test_value_lines_inside_block_mappings(tmp_path: Path) -> None:
    text = "norm:\n  id: group_norm\n  eps: 0\n  groups: 0\ntransform: case_rescale\n"
    assert_error(tmp_path, text, 4, "groups must be an integer in [1,")


@pytest.mark.parametrize(
    ("layer", "channels", "field"),
    [("{units: 16}", 16, "units"), ("{kind: conv, out_channels: 10}", 10, "out_channels")],
)
def test_groups_must_divide_the_channels(tmp_path: Path, layer: str, channels: int, field: str) -> None:
    text = f"transform: case_rescale\nlayer: {layer}\nnorm:\n  id: group_norm\n  groups: 3\n"
    assert_error(tmp_path, text, 5, f"groups 3 does not divide the layer's {channels} channels ({field})")


def test_eval_mode_is_for_batch_norm_only(tmp_path: Path) -> None:
    assert (
        load(tmp_path, "norm: {id: batch_norm, mode: eval}\ntransform: case_rescale\n")[0].norm.mode == "eval"
    )
    text = "transform: case_rescale\nnorm: {id: layer_norm, mode: eval}\n"
    assert_error(tmp_path, text, 2, "mode 'eval' applies only to batch_norm, not 'layer_norm'")


@pytest.mark.parametrize("key_text", ["role: layer", "weight: w", "kwargs: {a: 1}"])
def test_module_only_keys_need_a_module(tmp_path: Path, key_text: str) -> None:
    text = f"transform: case_rescale\nnorm:\n  id: layer_norm\n  {key_text}\n"
    assert_error(tmp_path, text, 4, f"{key_text.split(':')[0]} applies only to a 'module:' norm")


@pytest.mark.parametrize(
    "text",
    [
        "transform: case_rescale\nnorm:\n  module: a.b:C\n  impl: torch\n",
        "transform: case_rescale\nnorm: {module: a.b:C}\nimpl: torch\n",
    ],
)
def test_impl_torch_cannot_run_a_module(tmp_path: Path, text: str) -> None:
    line = text.splitlines().index(next(row for row in text.splitlines() if "impl" in row)) + 1
    assert_error(tmp_path, text, line, "impl 'torch' cannot run module 'a.b:C'")


@pytest.mark.parametrize("module", ["mypkg.norms", "mypkg/norms:MyNorm", "mypkg.norms:", "1pkg:X"])
def test_module_must_be_an_import_path(tmp_path: Path, module: str) -> None:
    text = f"transform: case_rescale\nnorm: {{module: '{module}'}}\n"
    assert_error(tmp_path, text, 2, f"module '{module}' is not an import path", "'package.module:Name'")


def test_torch_api_options(tmp_path: Path) -> None:
    (check,) = load(
        tmp_path,
        "norm: {id: layer_norm, api: functional, torch_eps: false}\nimpl: torch\ntransform: case_rescale\n",
    )
    assert (check.norm.impl, check.norm.api, check.norm.torch_eps) == ("torch", "functional", False)


@pytest.mark.parametrize("key_text", ["api: functional", "torch_eps: false"])
def test_torch_api_options_need_impl_torch(tmp_path: Path, key_text: str) -> None:
    text = f"transform: case_rescale\nnorm:\n  id: layer_norm\n  {key_text}\n"
    assert_error(tmp_path, text, 4, f"{key_text.split(':')[0]} applies only to impl 'torch'")


def test_impl_given_twice(tmp_path: Path) -> None:
    text = "transform: case_rescale\nnorm: {id: layer_norm, impl: torch}\nimpl: reference\n"
    assert_error(tmp_path, text, 3, "impl is given twice")


# Errors: matrices ----------------------------------------------------------------------------


def test_matrix_row_of_the_wrong_length(tmp_path: Path) -> None:
    text = "matrix:\n  expect:\n    layer_norm: [invariant, invariant, invariant, invariant, invariant]\n"
    assert_error(tmp_path, text, 3, "expect row 'layer_norm' has 5 verdicts but transforms has 6")


def test_matrix_unknown_norm_row(tmp_path: Path) -> None:
    text = "matrix:\n  transforms: [case_rescale]\n  expect:\n    layer_nrom: [invariant]\n"
    assert_error(tmp_path, text, 4, "unknown norm 'layer_nrom'", "did you mean 'layer_norm'?")


@pytest.mark.parametrize(
    ("text", "line", "parts"),
    [
        (
            "matrix:\n  transforms: [case_rescale]\n  expect: {rms_norm: [invarient]}\n",
            3,
            ("unknown verdict 'invarient'", "'invariant'"),
        ),
        ("matrix:\n  transforms: [case_rescal]\n", 2, ("unknown transform 'case_rescal'", "'case_rescale'")),
        ("matrix:\n  transforms: [case_rescale, case_rescale]\n", 2, ("listed twice",)),
        ("matrix:\n  transforms: []\n", 2, ("transforms must be a non-empty list",)),
        ("matrix:\n  expect: {rms_norm: {case_rescal: invariant}}\n", 2, ("'case_rescal'", "'case_rescale'")),
        ("matrix:\n  expect: {rms_norm: invariant}\n", 2, ("must be a list of verdicts or a mapping",)),
        (
            "matrix:\n  norms: [rms_norm]\n  expect: {rms_norm: [invariant]}\n",
            2,
            ("norms or expect, not both",),
        ),
        (
            "matrix:\n  layers: [dense, conv]\n  transforms: [case_rescale]\n"
            "  expect:\n    dense: {rms_norm: [invariant]}\n",
            4,
            ("'conv' has none",),
        ),
        (
            "matrix:\n  norms: [rms_norm]\n  transform: [case_rescale]\n",
            3,
            ("transform must be an id", "'transforms: [...]'"),
        ),
        ("matrix:\n  name: x\n  norms: [rms_norm]\n", 2, ("unknown key 'name' in matrix",)),
        ("matrix: [3]\n", 1, ("a matrix must be a mapping",)),
        ("matrix: {}\n", 1, ("matrix has no norms",)),
        (
            "matrix:\n  norm: {module: a:B}\n  transforms: [case_rescale]\n  expect:\n    rms_norm: [invariant]\n",
            5,
            ("'module:' norm",),
        ),
    ],
)
def test_matrix_errors(tmp_path: Path, text: str, line: int, parts: tuple[str, ...]) -> None:
    assert_error(tmp_path, text, line, *parts)


# validate / load_specs / discover --------------------------------------------------------------


def test_validate_lists_every_error_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        defaults: {trials: 0}
        checks:
          - {norm: layer_nrom, transform: case_rescale}
          - {norm: rms_norm, transform: case_rescale, dtype: float23}
          - {norm: rms_norm, transform: case_rescale}
    """,
    )
    messages = [str(err) for err in validate([path])]
    assert messages == [
        f"{path}:1: trials must be an integer in [1, 100000], got 0",
        f"{path}:3: unknown norm 'layer_nrom' (did you mean 'layer_norm'?)",
        f"{path}:4: unknown dtype 'float23' (did you mean 'float32'?)",
    ]
    errors = validate([path])
    assert (errors[1].file, errors[1].line, errors[1].value) == (str(path), 3, "layer_nrom")


def test_validate_goes_on_across_files_and_paths(tmp_path: Path) -> None:
    good = write(tmp_path, "norm: rms_norm\ntransform: case_rescale\n", "good.yaml")
    bad = write(tmp_path, "norm: rms_norm\ntransform: case_rescale\ntrials: 0\n", "bad.yaml")
    missing = tmp_path / "missing.yaml"
    assert validate([good]) == []
    found = validate([bad, missing, good])
    assert [(err.file, err.line) for err in found] == [(str(bad), 3), (str(missing), None)]
    with pytest.raises(SpecError, match="trials"):
        load_specs([good, bad])
    assert len(load_specs([good, good])) == 1  # a file given twice is loaded once


def test_discover_folders(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yml", "a/y.yaml", ".hidden/x.yaml", "a/.h.yaml", "notes.txt"):
        write(tmp_path, "norm: rms_norm\ntransform: case_rescale\n", name)
    assert discover([tmp_path]) == [tmp_path / "a/y.yaml", tmp_path / "a/z.yml", tmp_path / "b.yaml"]
    assert discover([tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]  # a file given is a spec
    files = [c.file for c in load_specs([tmp_path / "a"])]
    assert files == [str(tmp_path / "a/y.yaml"), str(tmp_path / "a/z.yml")]


def test_discover_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file or folder") as info:
        discover([tmp_path / "nope"])
    assert str(tmp_path / "nope") in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"no spec files \(\*\.yaml, \*\.yml\)"):
        discover([tmp_path / "empty"])


# Contract ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "config"), [(rules.NORM_FIELDS, NormConfig), (rules.MODULE_TRANSFORM_FIELDS, TransformConfig)]
)
def test_every_settings_field_has_a_yaml_key(fields: dict, config: type) -> None:
    # `obj`: an object the Python API holds (a module instance, a lambda), which no YAML can write
    assert set(fields) == {field.name for field in dataclasses.fields(config)} - {"obj"}


@pytest.mark.parametrize("kind", names.LAYERS)
def test_every_layer_size_has_a_yaml_key(kind: str) -> None:
    keys = set(rules.layer_fields(kind))
    assert keys == {"kind", "layout", "placement", *LayerConfig(kind).kind_spec.sizes}


def test_check_keys_cover_check_config() -> None:
    wanted = {field.name for field in dataclasses.fields(CheckConfig)} - {"file", "line"}
    assert wanted <= set(spec.CHECK_KEYS)


def test_loading_specs_does_not_import_torch(tmp_path: Path) -> None:
    write(tmp_path, TABLE_1)
    code = (
        "import sys\nfrom invcheck.spec import load_specs\n"
        f"assert len(load_specs([{str(tmp_path)!r}])) == 12\n"
        "assert 'torch' not in sys.modules, 'spec loading imported torch'\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (
            'norm: {module: "m:N", weight: lin.weight}\ntransform: dataset_rescale\n',
            "weight applies only to role 'layer'",
        ),
        (
            "norm: layer_norm\ntransform: {id: dataset_rescale, scale: [1, 1]}\n",
            "must not be [1, 1] (the identity)",
        ),
        (
            "norm: layer_norm\ntransform: {id: dataset_recenter, shift: 0}\n",
            "shift must be a number in [0.001, 1e+06]",
        ),
    ],
)
def test_settings_that_would_test_nothing_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        spec.load_file(path)
    text = str(err.value)
    assert message in text and ("spec.yaml:1:" in text or "spec.yaml:2:" in text)


def test_a_check_that_switches_kind_drops_the_defaults_conv_layout(tmp_path: Path) -> None:
    (check,) = load(
        tmp_path,
        """\
        defaults: {layer: {kind: conv, layout: channels_last}}
        checks:
          - {norm: layer_norm, transform: dataset_rescale, layer: dense}
    """,
    )
    assert check.layer == LayerConfig("dense")


def test_an_integral_float_is_an_integer_as_on_the_command_line() -> None:
    from invcheck import spec

    (check,) = spec.load_text("norm: layer_norm\ntransform: dataset_rescale\ntrials: 8.0\nseed: 1000.0\n")
    assert (check.trials, check.seed) == (8, 1000) and isinstance(check.trials, int)
