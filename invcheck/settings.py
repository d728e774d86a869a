"""What one check asks for, as plain validated data (no torch here).

`spec.py` builds these from YAML; the CLI and the Python API build them through `check_config`.
Every field has the default that `invcheck table` uses.

A layer's sizes belong to its kind: LayerConfig reads their defaults from the layer-kind registry
(and `channels` from the placements'), imported where it is read. The registries import this
module for type hints only, so the imports stay one-way (tests/test_import_graph.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_KIND = "dense"  # the layer a check names none of (spec, schema, API, CLI)


@dataclass(frozen=True, init=False)
class LayerConfig:
    """The layer that maps input cases X to summed inputs a, and where its norm sits.

    Sizes belong to the layer kind (`layer_kinds/`): `LayerConfig("conv", out_channels=16)`, read
    back as `layer.out_channels`. Only sizes that differ from the kind's defaults are stored, so
    two configs of the same layer compare equal however they were written.
    """

    kind: str
    sizes: tuple[tuple[str, int], ...]
    layout: str
    placement: str

    def __init__(
        self,
        kind: str = DEFAULT_KIND,
        *,
        layout: str = "channels_first",
        placement: str = "summed",
        sizes: Iterable[tuple[str, int]] = (),
        **more: int,
    ) -> None:
        from invcheck.layer_kinds import LAYER_KINDS

        defaults = {k: s.default for k, s in LAYER_KINDS[kind].sizes.items()} if kind in LAYER_KINDS else {}
        merged = {**dict(sizes), **more}
        kept = tuple(sorted((k, v) for k, v in merged.items() if defaults.get(k, _MISSING) != v))
        for name, value in (("kind", kind), ("sizes", kept), ("layout", layout), ("placement", placement)):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> int:
        """A size of the layer's kind: the stored value, else the kind's default."""
        if name.startswith("__"):
            raise AttributeError(name)
        stored = dict(self.__dict__.get("sizes", ()))
        if name in stored:
            return stored[name]
        kind = self.kind_spec
        if kind is not None and name in kind.sizes:
            return kind.sizes[name].default
        raise AttributeError(f"a {self.__dict__.get('kind')!r} layer has no size {name!r}")

    @property
    def kind_spec(self) -> Any:
        """The LayerKind object (None for a kind the registry does not know)."""
        from invcheck.layer_kinds import LAYER_KINDS

        return LAYER_KINDS.get(self.__dict__.get("kind", ""))

    def all_sizes(self) -> dict[str, int]:
        """Every size of the kind, defaults filled in."""
        return {key: getattr(self, key) for key in self.kind_spec.sizes}

    def with_sizes(self, **sizes: int) -> LayerConfig:
        return LayerConfig(self.kind, layout=self.layout, placement=self.placement, sizes=self.sizes, **sizes)

    @property
    def channels(self) -> int:
        """Number of normalized units C where the norm sits: H for dense, C_out for conv; the input's
        D (C_in) for a norm on the layer's input."""
        from invcheck.placements import get_placement

        return get_placement(self.placement).channels(self.kind_spec, self)

    @property
    def fan_in(self) -> int:
        """Length of each neuron's incoming weight vector (the matmul/conv reduction)."""
        return self.kind_spec.fan_in(self)


_MISSING = object()


@dataclass(frozen=True)
class NormConfig:
    """Which norm, with its parameters (README, "What it computes")."""

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
    eps_attr: str | None = None  # user code: the attribute that holds its eps, when not a usual name
    kwargs: dict[str, Any] = field(default_factory=dict)
    role: str = "norm"  # user code: "norm" (maps a to y) | "layer" (owns its weights)
    weight: str = "weight"  # role "layer": the parameter that is W
    # user code held by the caller (the API): a user_objects.UserObject; `module` is then its label
    obj: Any = None

    @property
    def label(self) -> str:
        """What reports call the norm: its id; user code by its import path, after the label its
        spec gave it (`id: my_norm`) where it gave one."""
        if self.module is None:
            return self.id
        return self.module if self.id == "custom" else f"{self.id} ({self.module})"


@dataclass(frozen=True)
class TransformConfig:
    """Which transform of W or X, with its parameters (README, "What it computes")."""

    id: str = "dataset_rescale"
    scale: tuple[float, float] = (0.1, 10.0)  # scale factors are log-uniform on this range
    negative: bool = False  # negate the factors (flips the sign of normalized outputs)
    shift: float = 1.0  # re-centering: size of gamma, in units of the std of the shifted entries
    # a transform of the user's own: "pkg.mod:fn" (or, from the API, the label of `obj`, a
    # user_objects.UserObject), called (X, W, generator, **kwargs) -> (X', W'); `id` is its label
    module: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False)  # hash=False: draws are keyed by it
    obj: Any = None


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
    max_eps_effect: float | None = None  # eps's effect between the sides beyond this: not invariant
    expect: str | None = None  # expected verdict
    name: str | None = None
    file: str | None = None  # where the check was written, for messages
    line: int | None = None

    def with_(self, **changes: Any) -> CheckConfig:
        return replace(self, **changes)

    @property
    def location(self) -> str | None:
        """ "file:line" of a check that came from a spec, "file" without a line, None from Python."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def title(self) -> str:
        return self.name or f"{self.layer.kind}/{self.norm.label}/{self.transform.id}"


def _names(config: type) -> list[str]:
    return [f.name for f in fields(config)]


# What an option of `check_config` sets: a field of NormConfig, TransformConfig or CheckConfig itself
# (None), or the layer's layout or placement; any other name is a size of the layer. A name both
# NormConfig and TransformConfig have (module, kwargs, obj) is the norm's: a transform of the user's
# own comes whole, as its TransformConfig. `id` and `kind` are the norm, transform and layer arguments.
OPTIONS: dict[str, str | None] = {
    **{name: "norm" for name in _names(NormConfig) if name != "id"},
    **{name: "transform" for name in _names(TransformConfig) if name not in ("id", *_names(NormConfig))},
    "layout": "layer",
    "placement": "layer",
    **{name: None for name in _names(CheckConfig) if name not in ("norm", "transform", "layer")},
}


def check_config(
    norm: str | NormConfig = "layer_norm",
    transform: str | TransformConfig = "dataset_rescale",
    layer: str | LayerConfig = DEFAULT_KIND,
    **options: Any,
) -> CheckConfig:
    """One check from a norm, a transform and a layer (each an id or its config) and options, each
    set where OPTIONS says (`trials=4`, `groups=4`, `shift=2.0`, `placement="input"`, `units=32`):
    the one place the API, the CLI, the table and spec loading build a CheckConfig. Nothing is
    validated here (rules.py judges the result)."""
    routed: dict[str | None, dict[str, Any]] = {None: {}, "norm": {}, "transform": {}, "layer": {}}
    for name, value in options.items():
        routed[OPTIONS.get(name, "layer")][name] = value
    norm = norm if isinstance(norm, NormConfig) else NormConfig(id=norm)
    transform = transform if isinstance(transform, TransformConfig) else TransformConfig(id=transform)
    layer = layer if isinstance(layer, LayerConfig) else LayerConfig(layer)
    if routed["layer"]:
        more = routed["layer"]
        layout, placement = more.pop("layout", layer.layout), more.pop("placement", layer.placement)
        layer = LayerConfig(layer.kind, layout=layout, placement=placement, sizes=layer.sizes, **more)
    return CheckConfig(
        norm=replace(norm, **routed["norm"]),
        transform=replace(transform, **routed["transform"]),
        layer=layer,
        **routed[None],
    )


def test_names(checks: list[CheckConfig]) -> list[str]:
    """Each check's test name within one spec file, for the pytest plugin and JUnit alike: its title;
    a name already taken (a repeated title, or one written as `x@3`) gets '@line' added until it is
    unique, so that no two tests share an id and a check keeps its id while others are added."""
    taken: set[str] = set()
    out = []
    for i, check in enumerate(checks):
        name = check.title
        while name in taken:
            name = f"{name}@{check.line or i + 1}"
        taken.add(name)
        out.append(name)
    return out
