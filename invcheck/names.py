"""The vocabulary of DESIGN.md as plain strings.

Kept free of torch so that `--help`, `--version` and spec validation start fast.
The registries in `norms/` and `transforms/` must list exactly these ids
(a test holds them together).
"""

from __future__ import annotations

LAYERS: tuple[str, ...] = ("dense", "conv")

NORMS: tuple[str, ...] = (
    "batch_norm",
    "weight_norm",
    "layer_norm",
    "instance_norm",
    "group_norm",
    "rms_norm",
)

# Column order of the paper's Table 1.
TRANSFORMS: tuple[str, ...] = (
    "weight_matrix_rescale",
    "weight_matrix_recenter",
    "weight_vector_rescale",
    "dataset_rescale",
    "dataset_recenter",
    "case_rescale",
)

VERDICTS: tuple[str, ...] = ("invariant", "not_invariant", "inconclusive", "undefined")

DTYPES: tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")

DEVICES: tuple[str, ...] = ("cpu", "cuda", "auto")

MODES: tuple[str, ...] = ("train", "eval")

# Which implementation computes the norm: the math of DESIGN.md, or PyTorch's own layers.
IMPLS: tuple[str, ...] = ("reference", "torch")

# impl torch: PyTorch's torch.nn modules, or the torch.nn.functional calls behind them.
APIS: tuple[str, ...] = ("module", "functional")

# Short column headers for tables.
TRANSFORM_LABELS: dict[str, str] = {
    "weight_matrix_rescale": "W rescale",
    "weight_matrix_recenter": "W recenter",
    "weight_vector_rescale": "w_i rescale",
    "dataset_rescale": "data rescale",
    "dataset_recenter": "data recenter",
    "case_rescale": "case rescale",
}
