"""`invcheck schema`: generated from the validator's own rules, it accepts every shipped spec and
refuses what the validator refuses value by value (a misspelt norm, an unknown key, a bad bound) and
key beside key (rules.SCOPES: `groups` on layer_norm, `shift` on a re-scale, `tf32` on the CPU)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from invcheck import names
from invcheck.schema import spec_schema

if TYPE_CHECKING:
    from conftest import Invoke

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*ROOT.joinpath("specs").rglob("*.yaml"), *ROOT.joinpath("examples").rglob("*.yaml")])
SHIPPED = [p for p in SHIPPED if ".github" not in p.parts]  # a workflow, not a spec


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


def test_the_committed_schema_file_is_current() -> None:
    """The file editors point at (`# yaml-language-server: $schema=...`) is what `invcheck schema` prints."""
    committed = json.loads((ROOT / "invcheck.schema.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(spec_schema())), "run: invcheck schema -o invcheck.schema.json"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_spec_validates(validator, path: Path) -> None:
    assert errors(validator, path.read_text(encoding="utf-8")) == []


def test_there_are_shipped_specs() -> None:
    assert len(SHIPPED) >= 5


@pytest.mark.parametrize(
    "text",
    [
        "norm: layer_nrom\ntransform: dataset_rescale\n",  # a misspelt norm
        "norm: {id: layer_nrom}\ntransform: dataset_rescale\n",
        "checks:\n  - {norm: batchnorm, transform: dataset_rescale}\n",
        "matrix:\n  layer: dense\n  expect:\n    layer_nrom: [invariant]\n",  # a misspelt norm as a row
        "norm: layer_norm\ntransform: dataset_rescale\ntrails: 8\n",  # an unknown key
        "norm: layer_norm\ntransform: dataset_rescale\ntrials: 0\n",  # below the bound
        "norm: {id: layer_norm, eps: -1}\ntransform: dataset_rescale\n",
        "norm: layer_norm\ntransform: dataset_rescale\nlayer: {kind: dense, kernel: 3}\n",  # another kind's key
        "norm: layer_norm\ntransform: dataset_rescale\nexpect: invarient\n",
        "norm: layer_norm\ntransform: dataset_rescale\ndevice: gpu\n",
        "norm: {module: 'not an import path'}\ntransform: dataset_rescale\n",
        # a key beside a value of its sibling that rules it out (rules.SCOPES), in one mapping
        "norm: {id: layer_norm, groups: 2}\ntransform: dataset_rescale\n",
        "norm: {id: layer_norm, mode: eval}\ntransform: dataset_rescale\n",
        "norm: {id: batch_norm, mode: train, momentum: 0.2}\ntransform: dataset_rescale\n",
        "norm: {id: layer_norm, impl: reference, api: functional}\ntransform: dataset_rescale\n",
        "norm: {module: 'm:N', role: norm, weight: lin.weight}\ntransform: dataset_rescale\n",
        "norm: layer_norm\ntransform: {id: dataset_rescale, shift: 0.5}\n",
        "norm: layer_norm\ntransform: {id: dataset_recenter, scale: [0.5, 2]}\n",
        "norm: layer_norm\ntransform: dataset_rescale\ndevice: cpu\ntf32: true\n",
        "checks:\n  - {norm: {id: rms_norm, groups: 4}, transform: dataset_rescale}\n",
        "checks:\n  - {name: 'p::q', norm: layer_norm, transform: dataset_rescale}\n",  # '::' splits test ids
        "norm: {module: 'm:N', id: 'my::norm'}\ntransform: dataset_rescale\n",  # a label is in test ids too
        "norm: {id: layer_norm, eps: '-1e-5'}\ntransform: dataset_rescale\n",  # text that reads as a number: its bounds too
        "norm: {id: layer_norm, eps: '1e999'}\ntransform: dataset_rescale\n",  # inf
    ],
)
def test_refuses_what_the_validator_refuses(validator, text: str) -> None:
    from invcheck import spec
    from invcheck.errors import SpecError

    assert errors(validator, text)
    with pytest.raises(SpecError):
        spec.load_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "norm: {module: 'mypkg.norms:MyNorm', id: my label}\ntransform: dataset_rescale\n",  # a module norm's free id
        "norm: layer_norm\ntransform: {id: dataset_rescale, scale: ['1e-4', 1.0e-3]}\n",  # YAML 1.1 reads 1e-4 as text
        "defaults: {trials: 4}\nmatrix:\n  layers: [dense, conv]\n  norms: [batch_norm]\n",
        "norm: {id: group_norm, groups: 2}\ntransform: dataset_rescale\n",
        "norm: {id: batch_norm, mode: eval, momentum: 0.2}\ntransform: dataset_rescale\n",
        "norm: {module: 'm:N', id: group_norm, groups: 2, mode: eval}\ntransform: dataset_rescale\n",  # a labelled module
        "norm: {module: 'm:N', role: layer, weight: lin.weight}\ntransform: dataset_rescale\n",
        "norm: layer_norm\ntransform: {id: dataset_recenter, shift: 0.5}\n",
        "norm: layer_norm\ntransform: dataset_rescale\ndevice: cuda\ntf32: true\n",
    ],
)
def test_accepts_what_the_validator_accepts(validator, text: str) -> None:
    assert errors(validator, text) == []


def test_vocabularies_come_from_the_registries() -> None:
    text = json.dumps(spec_schema())
    for word in (*names.NORMS, *names.TRANSFORMS, *names.LAYERS, *names.VERDICTS, *names.DTYPES):
        assert f'"{word}"' in text


def test_invcheck_schema_prints_it(invoke: Invoke) -> None:
    proc = invoke("schema")
    assert proc.returncode == 0 and json.loads(proc.stdout) == json.loads(json.dumps(spec_schema()))


def test_key_sets_are_the_loaders() -> None:
    """Which keys go where is the loader's (spec.py): the schema must not drift from it."""
    from invcheck import spec

    schema = spec_schema()
    props = schema["properties"]
    assert set(props) == set(spec._FILE_KEYS)
    assert set(props["checks"]["items"]["properties"]) == set(spec.CHECK_KEYS)
    assert set(props["defaults"]["properties"]) == set(spec._DEFAULT_KEYS)
    assert set(schema["$defs"]["matrix"]["properties"]) == set(spec._MATRIX_KEYS)
