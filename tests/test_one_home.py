"""The helpers that give one idea one home: showing a path, shortening a repr, hinting a choice,
building a check from options, the SIGALRM timer, and the exact proofs' factoring of a variance."""

from __future__ import annotations

import os
import signal
import time

import pytest

from invcheck import timeouts
from invcheck.display import clipped, short_repr, shown_path
from invcheck.settings import LayerConfig, NormConfig, TransformConfig, check_config
from invcheck.spec_values import braced, did_you_mean


def test_a_path_below_the_working_directory_is_shown_from_it(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    inside, outside = tmp_path / "specs" / "a.yaml", tmp_path.parent / "b.yaml"
    assert shown_path(inside) == os.path.join("specs", "a.yaml")
    assert shown_path(outside) == str(outside)  # outside: as given
    assert shown_path(outside, parents=True) == os.path.join(os.pardir, "b.yaml")
    assert shown_path(inside, relative=False) == str(inside)
    assert shown_path("<stdin>") == "<stdin>"


def test_a_long_path_keeps_its_start_and_end() -> None:
    text = shown_path("a" * 100 + "/" + "b" * 100 + ".yaml", relative=False, limit=120)
    assert len(text) == 120 and text.startswith("a" * 57 + "...") and text.endswith("b.yaml")


def test_short_repr_cuts_a_string_inside_its_quotes() -> None:
    assert short_repr("x" * 100, 40) == repr("x" * 37) + "..."
    assert short_repr(list(range(100)), 20) == repr(list(range(100)))[:17] + "..."
    assert short_repr("short") == "'short'" and clipped("abcdef", 5) == "ab..."


def test_did_you_mean_names_the_nearest_choice_or_what_there_is() -> None:
    assert did_you_mean("flaot32", ["float32", "float64"]) == "did you mean 'float32'?"
    assert did_you_mean("unts", ["units", "cases"], "known: units, cases", spelled=braced) == (
        "did you mean '{units}'?"
    )
    assert did_you_mean("zzz", ["a", "b"]) == "expected one of: a, b"
    assert did_you_mean("zzz", ["a"], "the only key is 'a'") == "the only key is 'a'"


def test_check_config_sets_each_option_where_it_belongs() -> None:
    c = check_config(
        "group_norm", "case_rescale", "conv", groups=4, shift=2.0, placement="input", size=6, trials=3
    )
    assert c.norm == NormConfig(id="group_norm", groups=4)
    assert c.transform == TransformConfig(id="case_rescale", shift=2.0)
    assert c.layer == LayerConfig("conv", placement="input", size=6) and c.trials == 3
    base = LayerConfig("conv", out_channels=16)
    assert check_config(layer=base, kernel=1).layer == LayerConfig("conv", out_channels=16, kernel=1)
    assert check_config(module="m:N", kwargs={"a": 1}).norm.module == "m:N"  # shared names: the norm's


def test_the_alarm_rings_once_and_gives_back_an_alarm_set_before_it() -> None:
    rang: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: rang.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        with pytest.raises(TimeoutError), timeouts.alarm(0.05, TimeoutError):
            time.sleep(2)
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 3.0 < left <= 5.0 and not rang  # the outer alarm re-armed with what was left of it
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_timeout_bounds_are_one_pair() -> None:
    assert timeouts.within_bounds(0.1) and timeouts.within_bounds(86400)
    assert not any(timeouts.within_bounds(v) for v in (0, 0.05, 86401, True, "5", float("nan")))


def test_a_rescaled_variance_shares_its_root_with_the_original() -> None:
    sp = pytest.importorskip("sympy")
    from invcheck.why.cell import _root

    x, y = sp.symbols("x y", real=True)
    d = sp.Symbol("d", positive=True)
    p = ((x - y) ** 2 + (x + y) ** 2) / 4
    assert sp.simplify(_root(sp.expand(d**2 * p)) - d * _root(p)) == 0
    assert _root(sp.expand(d**2 * p)) == d * _root(p)  # structurally: one sqrt(P) on both sides


def test_no_code_outside_the_registries_branches_on_a_norm_or_kind_id() -> None:
    """A comparison with a registered id (`kind_id == "dense"`, `norm in ("a", "b")`) outside
    norms/ and layer_kinds/ is a rule that a new entry would not follow: it belongs on the class."""
    import ast
    from pathlib import Path

    from invcheck.layer_kinds import LAYER_KINDS
    from invcheck.norms import NORMS

    ids, package = set(NORMS) | set(LAYER_KINDS), Path(timeouts.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        if path.parent.name in ("norms", "layer_kinds"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for side in (node.left, *node.comparators):
                    for c in (side, *getattr(side, "elts", ())):
                        if isinstance(c, ast.Constant) and c.value in ids:
                            found.append(f"{path.relative_to(package)}:{node.lineno} {c.value!r}")
    assert not found
