"""The benchmark helpers that need no GPU: gpu.sh parses, its verdict comparison finds differences,
bench_size runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def table_json(path: Path, device: str, verdicts: list[str]) -> Path:
    cells = [
        {
            "layer": "dense",
            "norm": "layer_norm",
            "transform": t,
            "verdict": v,
            "deviation": 0.1,
            "tolerance": 0.01,
        }
        for t, v in zip(("dataset_rescale", "case_rescale"), verdicts)
    ]
    path.write_text(json.dumps({"schema_version": 1, "device": device, "tf32": False, "cells": cells}))
    return path


def test_compare_verdicts_reports_each_differing_cell(tmp_path: Path) -> None:
    cpu = table_json(tmp_path / "cpu.json", "cpu", ["invariant", "invariant"])
    gpu = table_json(tmp_path / "cuda.json", "NVIDIA H100", ["invariant", "inconclusive"])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare_verdicts.py"), str(cpu), str(gpu)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert "dense/layer_norm/case_rescale: invariant" in proc.stdout and "inconclusive" in proc.stdout
    assert "1 of 2 cells agree, 1 differ" in proc.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_gpu_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu.sh")]).returncode == 0


@pytest.mark.slow
def test_bench_size_prints_both_sides_and_their_ratios() -> None:
    """A smoke run at a tiny size (the numbers themselves are measured, never asserted)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_size.py"),
            "--size",
            "32",
            "--repeat",
            "1",
            "--transform",
            "weight_matrix_rescale",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for line in ("bare forward passes", "invcheck run_check", "verdict invariant", "time:", "peak memory:"):
        assert line in proc.stdout
