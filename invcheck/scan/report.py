"""What a model scan found: one verdict per (parameter tensor, transform), and joint groups.

Torch-free: renderers (terminal, JSON, Markdown, heatmap) build on these records alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

# The three transforms a scan applies to every tensor, in the table's own words.
TRANSFORMS: tuple[str, ...] = (
    "weight_matrix_rescale",
    "weight_vector_rescale",
    "weight_matrix_recenter",
)

VERDICTS: tuple[str, ...] = ("invariant", "not_invariant", "inconclusive", "undefined")


def _number(value: float) -> float | None:
    """JSON has no NaN or infinity: an undefined deviation is written as null."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ParamVerdict:
    """One parameter tensor under one transform."""

    name: str
    shape: tuple[int, ...]
    transform: str  # weight_matrix_rescale | weight_vector_rescale | weight_matrix_recenter
    verdict: str  # invariant | not_invariant | inconclusive | undefined
    deviation: float
    tolerance: float
    why: str
    via: str | None  # e.g. "layer1.0.bn1 (BatchNorm2d, batch statistics)"
    at_these_values_only: bool = False  # holds at the model's own values, not at re-drawn generic ones
    module: str = ""  # owning module's qualified name ("" for a raw parameter of the root)
    module_type: str = ""  # e.g. "Conv2d"
    eps_effect: float | None = None  # deviation of the eps-as-is run, where it was measured

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            **_judged(self),
            "eps_effect": None if self.eps_effect is None else _number(self.eps_effect),
        }


@dataclass(frozen=True)
class GroupVerdict:
    """Tensors transformed together (a layer's weight and bias) under one transform."""

    names: tuple[str, ...]
    transform: str
    verdict: str
    deviation: float
    tolerance: float
    why: str
    via: str | None
    at_these_values_only: bool = False
    module: str = ""
    module_type: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), **_judged(self)}


def _judged(v: ParamVerdict | GroupVerdict) -> dict[str, Any]:
    """The fields a tensor's and a group's verdicts share, in the JSON's order."""
    return {
        "transform": v.transform,
        "verdict": v.verdict,
        "deviation": _number(v.deviation),
        "tolerance": _number(v.tolerance),
        "why": v.why,
        "via": v.via,
        "at_these_values_only": v.at_these_values_only,
        "module": v.module,
        "module_type": v.module_type,
    }


@dataclass(frozen=True)
class ScanReport:
    """A whole model's scan: the model's name, the mode, every verdict."""

    model: str
    mode: str
    parameters: tuple[ParamVerdict, ...]
    groups: tuple[GroupVerdict, ...]
    schema_version: int = SCHEMA_VERSION
    model_dtype: str = ""  # the user's model's own floating dtype ("" where not recorded)
    scan_dtype: str = "float64"  # the dtype of the copy every pass ran on

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "model": self.model,
            "mode": self.mode,
            "model_dtype": self.model_dtype,
            "scan_dtype": self.scan_dtype,
            "parameters": [p.to_json() for p in self.parameters],
            "groups": [g.to_json() for g in self.groups],
        }

    def verdict_of(self, name: str, transform: str) -> ParamVerdict:
        """The verdict of one tensor under one transform (KeyError when it was not scanned)."""
        for p in self.parameters:
            if p.name == name and p.transform == transform:
                return p
        raise KeyError(f"{name} / {transform}")
