"""The spec loader and the output checks against hostile input (the CLI corpus is tests/corpus)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from invcheck.cli.common import OutputError, check_outputs, write_output
from invcheck.errors import SpecError
from invcheck.spec_yaml import MAX_NODES, parse_yaml, read_yaml

P = "norm: layer_norm\ntransform: dataset_rescale\n"


def error(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_yaml(text, "s.yaml")
    return str(info.value)


def test_merged_keys_may_be_overridden_but_own_keys_not_repeated() -> None:
    doc = parse_yaml("base: &b {units: 4, cases: 8}\nlayer: {<<: *b, units: 16}\n", "s.yaml")
    assert doc["layer"] == {"units": 16, "cases": 8}
    assert error("layer: {units: 4, units: 16}\n") == "s.yaml:1: duplicate key 'units' (first at line 1)"


def test_an_alias_bomb_is_refused_before_it_is_walked() -> None:
    bomb = "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9 if i else ["x"] * 9) + "]\n" for i in range(12)
    )
    start = time.perf_counter()
    assert f"expands to more than {MAX_NODES} values" in error(bomb)
    assert time.perf_counter() - start < 5


def test_shared_anchors_below_the_budget_load() -> None:
    doc = parse_yaml("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n", "s.yaml")
    assert doc["b"] == [[1, 2, 3]] * 3


@pytest.mark.parametrize(
    "text, line",
    [
        ("x: 1\ny: !!int 12ab\n", "s.yaml:2: cannot read '12ab' as !!int"),
        ("x: 1\ny: 2024-02-30\n", "s.yaml:2: '2024-02-30' reads as a date or time but is no valid one"),
        ("x: " + "[" * 200 + "]" * 200 + "\n", "s.yaml:1: values nested more than 64 deep"),
        ("x: &r {y: *r}\n", "s.yaml:1: a recursive alias"),
    ],
)
def test_conversion_errors_are_located(text: str, line: str) -> None:
    assert error(text).startswith(line)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="it is a FIFO"):
        read_yaml(fifo, "s.yaml")


def test_stray_bytes_are_named_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(P.encode() + b"name: \xff\n")
    with pytest.raises(SpecError, match=r"s.yaml:3: spec file is not UTF-8 text \(byte 0xff\)"):
        read_yaml(path, "s.yaml")


def test_outputs_never_replace_an_input_nor_each_other(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(P)
    os.link(spec, tmp_path / "hard.yaml")
    with pytest.raises(OutputError, match="it is the input spec"):
        check_outputs([tmp_path / "hard.yaml"], [spec])
    with pytest.raises(OutputError, match="twice"):
        check_outputs([tmp_path / "r.txt", tmp_path / "." / "r.txt"])
    with pytest.raises(OutputError, match="does not exist"):
        check_outputs([tmp_path / "no" / "r.txt"])
    check_outputs([tmp_path / "r.txt", None], [spec])  # a new file beside the spec is fine


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_output("\ud800", tmp_path / "out.txt")  # not encodable
    assert list(tmp_path.iterdir()) == []
