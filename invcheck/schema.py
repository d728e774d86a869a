"""The JSON Schema of the spec format, assembled from the rules the validator uses.

Every value's fragment comes from its parser in rules.py (`spec_values.schema_of`), every key list from
the same tables spec.py reads, every vocabulary from the registries: a new norm, layer kind or field
appears here without being written twice. The schema checks each value on its own, which keys
go where, and the rules of `rules.SCOPES` (a key that applies only beside some value of another:
`groups` only on group_norm, `shift` only on a re-centering, `momentum` only in mode eval, `tf32`
not on the CPU) wherever both keys stand in one mapping; what needs more than one mapping (a key
given in `defaults:`), the layer's sizes (groups dividing the channels, placeholders) or the
absence of a key is the validator's alone.
Editors use it through `# yaml-language-server: $schema=...` for completion and inline errors.
"""

from __future__ import annotations

from typing import Any

from invcheck import names, rules
from invcheck.settings import DEFAULT_KIND
from invcheck.spec_values import Parser, schema_of

Schema = dict[str, Any]


def _object(parsers: dict[str, Parser], **extra: Schema) -> Schema:
    """An object whose keys are exactly these, each value as its parser accepts it."""
    properties = {key: schema_of(parser) for key, parser in parsers.items()}
    return {"type": "object", "properties": {**properties, **extra}, "additionalProperties": False}


def _scoped(section: str | None) -> list[Schema]:
    """rules.SCOPES as conditions on one mapping: where the key and its sibling are both given and
    the sibling's value rules the key out, the key is not allowed (an editor marks that key)."""
    out = []
    for scope in rules.SCOPES:
        if scope.section != section or scope.values is None:
            continue  # a key that needs another one present: that one may come from `defaults:`
        sibling: Schema = {"enum": list(scope.values)}
        condition: Schema = {
            "required": [scope.key, scope.field],
            "properties": {scope.field: sibling if scope.negate else {"not": sibling}},
        }
        if scope.value is not None:
            condition["properties"][scope.key] = {"const": scope.value}
        if scope.norms != "any":
            module: Schema = {"required": ["module"]}
            condition = {"allOf": [condition, module if scope.norms == "module" else {"not": module}]}
        out.append({"if": condition, "then": {"properties": {scope.key: False}}})
    return out


def _section(shorthand: Parser, body: Schema) -> Schema:
    """`norm: x` (an id) or a mapping."""
    return {"anyOf": [schema_of(shorthand), body]}


def norm() -> Schema:
    """A built-in norm's id is one of the registry's; a `module:` norm's id is a free label."""
    body = _object(rules.NORM_FIELDS)
    body["properties"]["id"] = {}
    body["allOf"] = [
        {
            "if": {"required": ["module"]},
            "then": {"properties": {"id": schema_of(rules.MODULE_NORM_FIELDS["id"])}},
            "else": {"properties": {"id": schema_of(rules.NORM_FIELDS["id"])}},
        },
        *_scoped("norm"),
    ]
    return _section(rules.NORM_FIELDS["id"], body)


def transform() -> Schema:
    """A built-in transform by id; a `module:` transform (the user's own) has a free label as id,
    takes kwargs, and its keyword arguments are its function's (checked when it runs)."""
    body = _object(rules.MODULE_TRANSFORM_FIELDS)
    body["properties"]["id"] = {}
    builtin: Schema = {"not": {"required": ["module"]}}
    body["allOf"] = [
        {
            "if": {"required": ["module"]},
            "then": {"properties": {"id": schema_of(rules.MODULE_TRANSFORM_FIELDS["id"])}},
            "else": {"properties": {"id": schema_of(rules.TRANSFORM_FIELDS["id"]), "kwargs": False}},
        },
        *({"if": {"allOf": [s["if"], builtin]}, "then": s["then"]} for s in _scoped("transform")),
    ]
    return _section(rules.TRANSFORM_FIELDS["id"], body)


def layer() -> Schema:
    """Any kind's keys, then only the keys of the kind given (dense when none is)."""
    body = _object(rules.layer_fields(None))
    kinds = []
    for kind in names.LAYERS:
        keys = {"enum": list(rules.layer_fields(kind))}
        condition: Schema = {"properties": {"kind": {"const": kind}}, "required": ["kind"]}
        if kind == DEFAULT_KIND:
            condition = {"anyOf": [condition, {"not": {"required": ["kind"]}}]}
        kinds.append({"if": condition, "then": {"propertyNames": keys}})
    body["allOf"] = kinds
    return _section(rules.layer_fields(None)["kind"], body)


def check(name: bool = True) -> Schema:
    """One check's keys (`defaults:` and a matrix take them without `name`, a matrix without `expect`)."""
    fields = {k: p for k, p in rules.CHECK_FIELDS.items() if name or k != "name"}
    body = _object(
        fields, norm=norm(), layer=layer(), impl=schema_of(rules.NORM_FIELDS["impl"]), transform=transform()
    )
    body["allOf"] = _scoped(None)
    return body


def _ids(parser: Parser) -> Schema:
    return {"type": "array", "minItems": 1, "uniqueItems": True, "items": schema_of(parser)}


def matrix() -> Schema:
    verdict = schema_of(rules.CHECK_FIELDS["expect"])  # a verdict or ~ (no expectation)
    row = {
        "anyOf": [
            {"type": "array", "items": verdict},
            {
                "type": "object",
                "propertyNames": {"enum": list(names.TRANSFORMS)},
                "additionalProperties": verdict,
            },
        ]
    }
    by_norm = {"type": "object", "propertyNames": {"enum": list(names.NORMS)}, "additionalProperties": row}
    by_layer = {
        "type": "object",
        "propertyNames": {"enum": list(names.LAYERS)},
        "additionalProperties": {"anyOf": [by_norm, row]},
    }  # row: a module norm's, per layer
    body = check(name=False)
    del body["properties"]["expect"]
    body["properties"].update(
        layers=_ids(rules.layer_fields(None)["kind"]),
        norms=_ids(rules.NORM_FIELDS["id"]),
        transforms=_ids(rules.TRANSFORM_FIELDS["id"]),
        expect={"anyOf": [{"type": "array", "items": verdict}, by_norm, by_layer]},
    )
    return body


def spec_schema() -> Schema:
    """The schema of a spec file: check keys at the top, or `checks:`, `matrix:`, and `defaults:`."""
    top = check()
    top["properties"].update(
        defaults=check(name=False),
        checks={"type": "array", "minItems": 1, "items": check()},
        matrix={
            "anyOf": [
                {"$ref": "#/$defs/matrix"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/matrix"}},
            ]
        },
    )
    from invcheck.scan.spec import schema as scan_schema

    top["properties"]["scan"] = scan_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "invcheck spec",
        "description": "A spec file of invcheck checks (see docs/specs.md, Spec format).",
        **top,
        "$defs": {"matrix": matrix()},
    }
