"""The command line as a user meets it: exit codes, one-line errors, files written whole or not at all.

Commands run in-process (conftest.invoke) unless the process itself is the point: those are `slow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.derived_rows import shown_norms

if TYPE_CHECKING:
    from conftest import Invoke

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def invcheck(invoke: Invoke) -> Invoke:
    """The command in-process (conftest.invoke), in the repository's root unless cwd= says otherwise."""
    return invoke


@pytest.mark.slow
def test_version_and_help_do_not_import_torch() -> None:
    code = (
        "import sys\nfrom invcheck.cli import main\nsys.argv = ['invcheck', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "table" in proc.stdout and "run" in proc.stdout
    version = subprocess.run([sys.executable, "-m", "invcheck", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("invcheck ")


# At the process's exit: whether the collector is on, and whether torch's objects were frozen.
GC_PROBE = (
    "import atexit, gc, sys\natexit.register(lambda: print('gc', gc.isenabled(), gc.get_freeze_count() > 10**5,"
    " file=sys.stderr))\n"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [["table", "--layer", "dense", "--trials", "2"], ["run", "specs/paper_table1.yaml"]]
)
def test_a_computing_command_imports_torch_with_the_collector_paused(args: list[str]) -> None:
    """cli.common.load_torch: torch's objects frozen (no full collection walks them again), the
    collector on afterwards. In an ASCII-only locale (PYTHONIOENCODING=ascii) the same process
    prints escapes, not a crash: one process for both questions (each imports torch)."""
    code = GC_PROBE + f"from invcheck.cli import main\nsys.argv = ['invcheck', *{args!r}]\nmain()\n"
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "gc True True"
    assert "Traceback" not in proc.stderr
    if args[0] == "table":  # its ✓ marks, escaped
        assert "\\u2713" in proc.stdout


@pytest.mark.slow
def test_the_library_leaves_the_collector_of_its_process_alone() -> None:
    api = GC_PROBE + "import invcheck\ninvcheck.assert_invariant('layer_norm', 'dataset_rescale', trials=2)\n"
    proc = subprocess.run([sys.executable, "-c", api], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "gc True False"


def test_table_json_has_the_promised_shape(invcheck: Invoke) -> None:
    proc = invcheck("table", "--format", "json", "--trials", "4")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {
        "schema_version",
        "invcheck_version",
        "torch_version",
        "device",
        "dtype",
        "seed",
        "trials",
        "cells",
    } <= set(data)
    # every registered norm in conv; in dense all but those that coincide with another (the 2d ones)
    assert len(data["cells"]) == len(shown_norms("dense")) * 6 + len(shown_norms("conv")) * 6
    cell = data["cells"][0]
    assert {"layer", "norm", "transform", "verdict", "deviation", "tolerance", "paper"} <= set(cell)
    assert all(c["verdict"] != "inconclusive" for c in data["cells"])


def test_table_check_passes_in_the_papers_setting(invcheck: Invoke) -> None:
    proc = invcheck("table", "--layer", "dense", "--check", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("layer,placement,norm,transform,verdict")
    proc = invcheck("table", "--layer", "recurrent", "--check", "--format", "csv")  # the RNN claim's setting
    assert proc.returncode == 0, proc.stderr


def test_table_check_fails_when_a_claim_is_contradicted(
    monkeypatch: pytest.MonkeyPatch, invcheck: Invoke
) -> None:
    # One claim of the paper flipped: the computed table must then disagree with it.
    import invcheck.paper as p

    flipped = tuple(
        p.Claim(c.source, c.layer, c.norm, c.transform, "not_invariant")
        if (c.norm, c.transform) == ("layer_norm", "dataset_rescale")
        else c
        for c in p.CLAIMS
    )
    monkeypatch.setattr(p, "CLAIMS", flipped)
    proc = invcheck("table", "--layer", "dense", "--check")
    assert proc.returncode == 1
    assert "layer_norm/dataset_rescale" in proc.stderr


def test_cuda_missing_is_a_clear_error(invcheck: Invoke) -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = invcheck("table", "--device", "cuda", "--layer", "dense")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cuda" in proc.stderr and "Traceback" not in proc.stderr


def test_run_exit_codes(tmp_path: Path, invcheck: Invoke) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("norm: layer_norm\ntransform: dataset_rescale\nexpect: invariant\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("norm: layer_norm\ntransform: weight_vector_rescale\nexpect: invariant\n")
    assert invcheck("run", str(good)).returncode == 0
    failed = invcheck("run", str(bad), "--format", "json")
    assert failed.returncode == 1
    data = json.loads(failed.stdout)
    assert data["failed"] == 1 and data["passed"] == 0
    result = data["results"][0]
    assert {
        "file",
        "name",
        "layer",
        "norm",
        "transform",
        "verdict",
        "expect",
        "passed",
        "deviation",
        "tolerance",
    } <= set(result)
    assert result["verdict"] == "not_invariant" and result["passed"] is False


def test_broken_spec_is_one_located_line_and_exit_2(tmp_path: Path, invcheck: Invoke) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text("norm: layer_norm\ntransform: dataset_rescal\n")
    for command in ("run", "validate"):
        proc = invcheck(command, str(spec))
        assert proc.returncode == 2, (command, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "typo.yaml:2" in lines[0] and "dataset_rescal" in lines[0]
        assert "did you mean 'dataset_rescale'" in lines[0]


def test_validate_accepts_the_shipped_specs(invcheck: Invoke) -> None:
    proc = invcheck("validate", "specs")
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_run_the_shipped_specs_passes(invcheck: Invoke) -> None:
    proc = invcheck("run", "specs")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert " 0 failed" in proc.stdout


def test_output_file_is_never_half_written(tmp_path: Path, invcheck: Invoke) -> None:
    out = tmp_path / "table.md"
    proc = invcheck("table", "--layer", "dense", "--format", "markdown", "--output", str(out))
    assert proc.returncode == 0 and out.read_text().startswith("_invcheck")
    # A failing run (bad device) leaves no file behind, not an empty one.
    missing = tmp_path / "never.json"
    proc = invcheck("table", "--device", "nope", "--format", "json", "--output", str(missing))
    assert proc.returncode == 2 and not missing.exists()
    assert list(tmp_path.iterdir()) == [out]


def test_unknown_format_is_rejected_with_exit_2(invcheck: Invoke) -> None:
    proc = invcheck("table", "--format", "html")
    assert proc.returncode == 2
    assert "html" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, text",
    [
        (
            ("table", "--layer", "conv", "--check"),
            "--check compares the papers' claims in their own settings",
        ),
        (("table", "--layer", "dense", "--output", "."), "is a directory"),
        (("table", "--layer", "dense", "--device", "mps"), "unknown device 'mps'"),
        (("table", "--layer", "dense", "--eps", "inf"), "--eps must be a number in [0, 1000], got inf"),
        (("table", "--layer", "dense", "--seed", "-1"), "--seed"),
    ],
)
def test_bad_table_options_are_one_line_and_exit_2(
    args: tuple[str, ...], text: str, invcheck: Invoke
) -> None:
    proc = invcheck(*args)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and text in proc.stderr


def test_user_code_calling_sys_exit_does_not_end_the_run(tmp_path: Path, invcheck: Invoke) -> None:
    (tmp_path / "quitter.py").write_text("import sys\nsys.exit(0)\n")
    spec = tmp_path / "quit.yaml"
    spec.write_text('norm: {module: "quitter:Norm"}\ntransform: dataset_rescale\nexpect: invariant\n')
    proc = invcheck("run", str(spec), "--allow-import")
    # an error result on its own line (the run goes on), exit 2 at the end
    line = next(line for line in proc.stdout.splitlines() if line.startswith("ERR "))
    assert proc.returncode == 2 and "SystemExit" in line and "quit.yaml:1" in line, proc.stdout + proc.stderr


def test_pyproject_beside_the_specs_allows_imports(tmp_path: Path, invcheck: Invoke) -> None:
    project = tmp_path / "proj"
    (project / "specs").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.invcheck]\nallow-import = true\n")
    (project / "mynorm.py").write_text(
        "import torch\nclass LN(torch.nn.Module):\n"
        "    def forward(self, a):\n"
        "        return (a - a.mean(1, keepdim=True)) / a.std(1, unbiased=False, keepdim=True)\n"
    )
    (project / "specs" / "ln.yaml").write_text(
        'norm: {module: "mynorm:LN", id: layer_norm}\ntransform: case_rescale\nexpect: invariant\n'
    )
    proc = invcheck("run", "specs", cwd=project)  # working in the project that grants it
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = invcheck("run", str(project / "specs"), cwd=tmp_path)  # a folder cannot grant itself permission
    assert proc.returncode == 2 and "--allow-import" in proc.stderr


def test_a_module_shadowed_by_another_specs_module_is_refused(tmp_path: Path, invcheck: Invoke) -> None:
    body = "import torch\nclass N(torch.nn.Module):\n    def forward(self, a):\n        return {}\n"
    for folder, out in (
        ("a", "(a - a.mean(1, keepdim=True)) / a.std(1, unbiased=False, keepdim=True)"),
        ("b", "a"),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mynorms.py").write_text(body.format(out))
        (tmp_path / folder / "s.yaml").write_text(
            'norm: {module: "mynorms:N", id: layer_norm}\ntransform: dataset_rescale\nexpect: invariant\n'
        )
    proc = invcheck("run", "a/s.yaml", "b/s.yaml", "--allow-import", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 2 and lines[0].startswith("PASS ") and "a/s.yaml:1" in lines[0]  # a ran
    assert lines[1].startswith("ERR ") and "shadowed" in lines[1] and "b/s.yaml:1" in lines[1]


def test_table_timeout_bounds_module_code(tmp_path: Path, invcheck: Invoke) -> None:
    (tmp_path / "slownorm.py").write_text(
        "import time, torch\n"
        "class Slow(torch.nn.Module):\n"
        "    def __init__(self, features):\n        super().__init__()\n        self.features = features\n"
        "    def forward(self, x):\n        time.sleep(1)\n        return torch.nn.functional.layer_norm(x, (self.features,))\n"
    )
    proc = invcheck(
        "table",
        "--layer",
        "dense",
        "--trials",
        "2",
        "--module",
        "slownorm:Slow",
        "--kwargs",
        '{"features": "{units}"}',
        "--allow-import",
        "--timeout",
        "0.5",
        "-f",
        "markdown",
        cwd=tmp_path,
    )
    # it runs in no layer asked for: one line, exit 2 (a layer it cannot run in, beside others, is a note)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        "error: module 'slownorm:Slow': did not finish within 0.5 s (allow more with --timeout SECONDS)\n"
    )


def test_dash_output_is_stdout_and_files_get_the_umask_mode(tmp_path: Path, invcheck: Invoke) -> None:
    proc = invcheck("schema", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["$schema"] and not (tmp_path / "-").exists()
    new, kept = tmp_path / "new.json", tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o664)
    umask = os.umask(0o022)
    try:
        for path in (new, kept):
            done = invcheck("schema", "-o", str(path))
            assert done.returncode == 0, done.stderr
    finally:
        os.umask(umask)
    assert (new.stat().st_mode & 0o777, kept.stat().st_mode & 0o777) == (0o644, 0o664)  # not mkstemp's 0600
    assert json.loads(kept.read_text())["$schema"]


def test_stdin_named_twice_is_refused(invcheck: Invoke) -> None:
    spec_text = (ROOT / "specs" / "paper_table1.yaml").read_text()
    for command in ("run", "validate"):
        proc = invcheck(command, "-", "-", input=spec_text)
        assert proc.returncode == 2 and proc.stdout == ""
        assert (
            proc.stderr
            == "error: <stdin>: '-' (a spec on stdin) is given more than once: stdin can be read once\n"
        )


# An ASCII terminal getting escapes, not a crash: test_a_computing_command_imports_torch_with_the_collector_paused


@pytest.mark.slow
def test_a_deleted_working_folder_is_one_line(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        f"import os, subprocess, sys\nos.chdir({str(gone)!r})\nos.rmdir({str(gone)!r})\n"
        "for args in (['--version'], ['table', '-o', 'rel.csv']):\n"
        "    p = subprocess.run([sys.executable, '-m', 'invcheck', *args], capture_output=True, text=True)\n"
        "    print(p.returncode, p.stdout.strip() or p.stderr.strip())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.stdout.splitlines() == [
        "0 invcheck 0.3.0",
        "2 error: the working folder no longer exists (it was deleted?): cd to another one",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--version"], ["schema"], ["run", "specs/paper_table1.yaml"]])
def test_a_full_or_closed_stdout_is_one_line(args: list[str]) -> None:
    for redirect, reason in (("> /dev/full", "No space left on device"), (">&-", "it is closed")):
        proc = subprocess.run(
            f"{sys.executable} -m invcheck {' '.join(args)} {redirect}",
            shell=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == f"error: cannot write to standard output: {reason}\n"


@pytest.mark.slow
def test_a_closed_or_endless_stdin_is_one_line() -> None:
    closed = subprocess.run(
        f"{sys.executable} -m invcheck validate - <&-",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert (closed.returncode, closed.stderr) == (
        2,
        "error: <stdin>: cannot read the spec on stdin: it is closed\n",
    )
    endless = subprocess.run(
        f"yes 'norm: layer_norm' | {sys.executable} -m invcheck validate -",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )  # read to its limit, not its end
    assert endless.returncode == 2 and "larger than the limit of 1024 KiB" in endless.stderr


@pytest.mark.parametrize(("value", "debug"), [("0", False), ("false", False), ("", False), ("1", True)])
def test_invcheck_debug_is_off_unless_set_to_something_true(
    value: str, debug: bool, monkeypatch: pytest.MonkeyPatch, invcheck: Invoke
) -> None:
    import invcheck.cli.table as t

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted")

    monkeypatch.setattr(t, "check_outputs", boom)
    if debug:  # the exception itself escapes main(): Python prints its traceback
        with pytest.raises(RuntimeError, match="planted"):
            invcheck("table", env={"INVCHECK_DEBUG": value})
        return
    proc = invcheck("table", env={"INVCHECK_DEBUG": value})
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3 and proc.stderr.startswith("internal error: RuntimeError: planted")


@pytest.mark.slow
def test_an_unwritable_stderr_keeps_the_exit_code() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m invcheck table --seed -1 2>/dev/full",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 2  # bad input, though its line could not be written
