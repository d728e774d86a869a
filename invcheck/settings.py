"""What one check asks for, as plain validated data (no torch here).

`spec.py` builds these from YAML; the CLI and the Python API build them directly.
Every field has the default that `invcheck table` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class LayerConfig:
    """The layer that maps input cases X to summed inputs a (DESIGN.md §2)."""

    kind: str = "dense"  # "dense" | "conv"
    cases: int = 16  # N
    # dense
    inputs: int = 32  # D
    units: int = 16  # H
    # conv
    in_channels: int = 4  # C_in
    out_channels: int = 8  # C_out ("units" of a conv layer)
    kernel: int = 3  # k
    size: int = 8  # S (input is S x S)
    padding: int = 0

    @property
    def channels(self) -> int:
        """Number of normalized units: H for dense, C_out for conv."""
        return self.units if self.kind == "dense" else self.out_channels

    @property
    def out_size(self) -> int:
        """S' of the conv output (1 for dense, which has no positions)."""
        if self.kind == "dense":
            return 1
        return self.size + 2 * self.padding - self.kernel + 1

    @property
    def fan_in(self) -> int:
        """Length of each neuron's incoming weight vector (the matmul/conv reduction)."""
        return self.inputs if self.kind == "dense" else self.in_channels * self.kernel**2


@dataclass(frozen=True)
class NormConfig:
    """Which norm, with its parameters (DESIGN.md §2)."""

    id: str = "layer_norm"
    eps: float = 0.0  # 0: the paper's exact math
    groups: int = 2  # group_norm only
    mode: str = "train"  # batch_norm: "train" (batch statistics) | "eval" (running statistics)
    warmup_batches: int = 4  # eval mode: batches seen in train mode first
    momentum: float = 0.1  # eval mode: running-statistics update rate
    # Issue 3: PyTorch's own layers, or user code by import path.
    impl: str = "reference"  # "reference" | "torch"
    api: str = "module"  # impl torch: torch.nn "module"s | torch.nn.functional ("functional")
    # impl torch: with eps 0 (the default), use torch's own default eps (True) or really 0 (False);
    # a nonzero eps is always used as given.
    torch_eps: bool = True
    module: str | None = None  # "pkg.mod:Name" (user code)
    kwargs: dict[str, Any] = field(default_factory=dict)
    role: str = "norm"  # user code: "norm" (maps a to y) | "layer" (owns its weights)
    weight: str = "weight"  # role "layer": the parameter that is W

    @property
    def label(self) -> str:
        return self.module or self.id


@dataclass(frozen=True)
class TransformConfig:
    """Which transform of W or X, with its parameters (DESIGN.md §3)."""

    id: str = "dataset_rescale"
    scale: tuple[float, float] = (0.1, 10.0)  # scale factors are log-uniform on this range
    negative: bool = False  # negate the factors (flips the sign of normalized outputs)
    shift: float = 1.0  # re-centering: size of gamma, in units of the std of the shifted entries


@dataclass(frozen=True)
class CheckConfig:
    """One check: a norm in a layer under a transform, and how to run and judge it."""

    norm: NormConfig = field(default_factory=NormConfig)
    transform: TransformConfig = field(default_factory=TransformConfig)
    layer: LayerConfig = field(default_factory=LayerConfig)
    trials: int = 8
    seed: int = 0
    dtype: str = "float64"
    device: str = "cpu"  # "cpu" | "cuda" | "auto"
    tf32: bool = False  # CUDA only: allow TF32 matmuls/convs (off: checks want IEEE float32)
    tolerance: float | None = None  # override the computed tolerance
    expect: str | None = None  # expected verdict
    name: str | None = None
    file: str | None = None  # where the check was written, for messages
    line: int | None = None

    def with_(self, **changes: Any) -> "CheckConfig":
        return replace(self, **changes)

    @property
    def location(self) -> str | None:
        """"file:line" of a check that came from a spec, "file" without a line, None from Python."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def title(self) -> str:
        return self.name or f"{self.layer.kind}/{self.norm.label}/{self.transform.id}"
