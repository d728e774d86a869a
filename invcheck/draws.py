"""The random draw of a check: X, W, gains, and the transformed X', W', from the check's seed.

Everything is drawn in float64 on the CPU from one seeded generator (the CUDA generator would draw
other numbers for the same seed), so a check's inputs are the same on every device and in every
dtype. Checks that differ only in their norm (a table's column) share one draw, and with it the
work done on its inputs (`Draw.cache`).
"""

from __future__ import annotations

import torch

from invcheck.impls.base import CACHE_ENTRIES, Draw
from invcheck.settings import CheckConfig, LayerConfig, TransformConfig
from invcheck.transforms import Transform, transform_of

Tensor = torch.Tensor
CACHED_DRAWS = 16  # a table's transforms for one layer and seed


def draw(check: CheckConfig) -> Draw:
    """X, W, gains and the transformed X', W' of every trial, from check.seed.

    The draw depends on nothing else, so checks that differ only in their norm (a table's column)
    share one, and with it the work done on its inputs (`Draw.cache`)."""
    warmup = check.norm.warmup_batches if check.norm.mode == "eval" else 0
    key = (check.layer, check.transform, check.seed, check.trials, warmup)
    if key in _DRAWS:
        return _DRAWS[key]
    d = _draw(*key, transform_of(check.transform, check))
    if d.x.numel() + d.w.numel() <= CACHE_ENTRIES:  # a hand-built config with a list: refused by rules
        _DRAWS[key] = d
        while len(_DRAWS) > CACHED_DRAWS:
            del _DRAWS[next(iter(_DRAWS))]  # the oldest
    return d


_DRAWS: dict[tuple[object, ...], Draw] = {}


def _draw(
    layer: LayerConfig,
    transform: TransformConfig,
    seed: int,
    trials: int,
    warmup_batches: int,
    spec: Transform,
) -> Draw:
    gen = torch.Generator().manual_seed(seed)
    t, kind = trials, layer.kind_spec
    x, w = sample_inputs(layer, t, gen), sample_weights(layer, t, gen)
    # Non-trivial affine parameters: |g| in [0.5, 2] with random signs, b ~ N(0, 1).
    g = 0.5 + 1.5 * torch.rand((t, layer.channels), generator=gen, dtype=torch.float64)
    g = g * torch.where(torch.rand(g.shape, generator=gen) < 0.5, -1.0, 1.0).double()
    b = torch.randn((t, layer.channels), generator=gen, dtype=torch.float64)
    x2, w2 = spec.apply(x, w, transform, gen, kind)
    # Drawn last, so that train and eval mode see the same X, W and transform for a seed.
    warmup = [sample_inputs(layer, t, gen) for _ in range(warmup_batches)]
    return Draw(x, w, x2, w2, g, b, warmup)


def normals(shape: tuple[int, ...], gen: torch.Generator) -> Tensor:
    """N(0, 1) entries held in float64, drawn as float32: torch's float32 sampler is vectorized,
    5x faster than its float64 one, and the draws need no more than float32's 24 bits."""
    return torch.randn(shape, generator=gen, dtype=torch.float32).double()


def sample_inputs(layer: LayerConfig, trials: int, gen: torch.Generator) -> Tensor:
    """X ~ N(0, 1), float64 on CPU: [T, N, ...] in the layer kind's layout."""
    return normals((trials, *layer.kind_spec.input_shape(layer)), gen)


def sample_weights(layer: LayerConfig, trials: int, gen: torch.Generator) -> Tensor:
    """W ~ N(0, 1/fan_in), so that summed inputs have unit scale: [T, H, ...]."""
    kind = layer.kind_spec
    return normals((trials, *kind.weight_shape(layer)), gen).div_(kind.fan_in(layer) ** 0.5)
