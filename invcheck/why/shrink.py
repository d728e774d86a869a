"""A counterexample a person can check by hand: fewest cases, inputs and units, shortest numbers.

Start from small random integers that break the cell, drop one case, input or unit at a time
while it still breaks, then make entries smaller (0, 1, -1) while it still breaks. A draw with
zero variance anywhere never counts (its norm is undefined). The result is certified exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from invcheck.why import exact
from invcheck.why.cell import ExactCell

THRESHOLD = 1e-6  # relative float64 deviation that counts as breaking (exactness is checked after)


def first_break(
    s: ExactCell, seed: int = 0, tries: int = 200
) -> tuple[ExactCell, np.ndarray, np.ndarray] | None:
    """A random small-integer draw that breaks the cell, or None."""
    s = s.with_sizes(**s.kind.search_sizes)
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        x = rng.integers(-3, 4, s.kind.input_shape(s.layer))
        w = rng.integers(-3, 4, s.kind.weight_shape(s.layer))
        if _breaks(s, x, w):
            return s, x, w
    return None


def shrink(s: ExactCell, x: np.ndarray, w: np.ndarray) -> tuple[ExactCell, np.ndarray, np.ndarray]:
    """Fewer cases, inputs and units, then smaller entries, while the cell still breaks; again
    until nothing changes (a zeroed entry can make an input or unit droppable)."""
    while True:
        s, x, w = _fewest(s, x, w)
        x2 = _smaller_entries(s, x, w, "x")
        w2 = _smaller_entries(s, x2, w, "w")
        if np.array_equal(x2, x) and np.array_equal(w2, w):
            return s, x, w
        x, w = x2, w2


def _fewest(s: ExactCell, x: np.ndarray, w: np.ndarray) -> tuple[ExactCell, np.ndarray, np.ndarray]:
    smaller = True
    while smaller:
        smaller = False
        for candidate in _drops(s, x, w):
            if _breaks(*candidate):
                (s, x, w), smaller = candidate, True
                break
    return s, x, w


def _smaller_entries(s: ExactCell, x: np.ndarray, w: np.ndarray, which: str) -> np.ndarray:
    t = (x if which == "x" else w).copy()
    for index in np.ndindex(t.shape):
        for v in (0, 1, -1):
            if abs(v) >= abs(t[index]) and not (abs(v) == abs(t[index]) and v > 0 > t[index]):
                continue
            trial = t.copy()
            trial[index] = v
            if _breaks(s, *((trial, w) if which == "x" else (x, trial))):
                t = trial
                break
    return t


def _drops(s: ExactCell, x: np.ndarray, w: np.ndarray) -> Iterator[tuple[ExactCell, np.ndarray, np.ndarray]]:
    """Every way to make one size of the layer one smaller, dropping one index of X and W."""
    for key, size in s.kind.sizes.items():
        value = getattr(s.layer, key)
        if value - 1 < size.low:
            continue
        s2 = s.with_sizes(**{key: value - 1})
        if s2.kind.problems(s2.layer):
            continue
        for index in range(value):
            x2 = _drop(x, s2.kind.input_shape(s2.layer), index)
            w2 = _drop(w, s2.kind.weight_shape(s2.layer), index)
            if x2 is not None and w2 is not None:
                yield s2, x2, w2


def _drop(t: np.ndarray, shape: tuple[int, ...], index: int) -> np.ndarray | None:
    """t without `index` along each axis that is one shorter in `shape` (None when it cannot)."""
    if len(shape) != t.ndim:
        return None
    for axis, (old, new) in enumerate(zip(t.shape, shape)):
        if new == old - 1:
            if index >= old:
                return None
            t = np.delete(t, index, axis)
        elif new != old:
            return None
    return t


def _breaks(s: ExactCell, x: np.ndarray, w: np.ndarray) -> bool:
    try:
        return exact.breaks(s, x, w) > THRESHOLD
    except (ValueError, RuntimeError):  # a size the norm cannot split (group_norm's groups)
        return False
