"""The vocabulary, as plain strings: ids from the registries, and the fixed word lists.

The registries (`layer_kinds/`, `norms/`, `transforms/`) import no torch, so `--help`, `--version`
and spec validation start fast. Everything that offers a choice (CLI, specs, the API, the JSON
Schema) takes it from here.
"""

from __future__ import annotations

from invcheck.layer_kinds import LAYER_KINDS
from invcheck.norms import NORMS as _NORMS
from invcheck.transforms import TRANSFORMS as _TRANSFORMS

LAYERS: tuple[str, ...] = tuple(LAYER_KINDS)
# The settings of the papers' claims (Table 1 is about a dense layer; the survey's about conv).
PAPER_LAYERS: tuple[str, ...] = ("dense", "conv")

NORMS: tuple[str, ...] = tuple(_NORMS)

# Column order of the paper's Table 1, then the transforms beyond it.
TRANSFORMS: tuple[str, ...] = tuple(_TRANSFORMS)
PAPER_TRANSFORMS: tuple[str, ...] = TRANSFORMS[:6]

VERDICTS: tuple[str, ...] = ("invariant", "not_invariant", "inconclusive", "undefined")

DTYPES: tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")

DEVICES: tuple[str, ...] = ("cpu", "cuda", "auto")  # and cuda:N

MODES: tuple[str, ...] = ("train", "eval")

# Which implementation computes the norm: the math of the definitions, or PyTorch's own layers.
IMPLS: tuple[str, ...] = ("reference", "torch")

# impl torch: PyTorch's torch.nn modules, or the torch.nn.functional calls behind them.
APIS: tuple[str, ...] = ("module", "functional")

# user code: maps summed inputs to outputs ("norm"), or owns its weights and maps X ("layer").
ROLES: tuple[str, ...] = ("norm", "layer")

# Where the norm sits: on the summed inputs (the paper's), after the activation, or on the input.
PLACEMENTS: tuple[str, ...] = ("summed", "post_activation", "input")

LAYOUTS: tuple[str, ...] = ("channels_first", "channels_last")

# Short column headers for tables.
TRANSFORM_LABELS: dict[str, str] = {t.id: t.label for t in _TRANSFORMS.values()}
