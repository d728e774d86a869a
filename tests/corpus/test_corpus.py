"""Every case of the bad-input corpus (cases.py) prints exactly its line of expected.txt, exit 2."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke, Result

HERE = Path(__file__).resolve().parent


def _cases_module():
    """cases.py by path (tests are not a package; --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location("invcheck_corpus_cases", HERE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


CASES, Case = _cases_module().CASES, _cases_module().Case
ROOT = HERE.parents[1]
TIMEOUT = 60  # a hang is a failure, not a stuck CI job


def expected() -> dict[str, str]:
    lines = (HERE / "expected.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if line.strip())


def _setup(case: Case, folder: Path) -> None:
    """What files cannot say: FIFOs, links, devices."""
    actions = {
        "fifo": lambda: os.mkfifo(folder / "spec.yaml"),
        "fifo-out": lambda: os.mkfifo(folder / "pipe"),
        "fifo-in-folder": lambda: os.mkfifo(folder / "specs" / "bad.yaml"),
        "devzero": lambda: os.symlink("/dev/zero", folder / "spec.yaml"),
        "dangling": lambda: os.symlink("nowhere.yaml", folder / "spec.yaml"),
        "loop": lambda: (
            os.symlink("b.yaml", folder / "spec.yaml"),
            os.symlink("spec.yaml", folder / "b.yaml"),
        ),
        "link-out": lambda: os.symlink("spec.yaml", folder / "out.txt"),
    }
    if case.setup:
        actions[case.setup]()


def materialize(case: Case, folder: Path) -> None:
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    _setup(case, folder)


# Cases whose code defeats its deadline end the process (user_load's watchdog): a real one each.
IN_A_PROCESS = {"user-ignores-alarm", "user-swallows-the-stop"}


def run_case(case: Case, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONSAFEPATH": "1"}
    env.pop("INVCHECK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "invcheck", *case.args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# A second right answer: the alarm's stop can land between the loop's `except` and its jump back,
# outside its `try` (more often on a loaded machine); it then ends the check as its own error, before
# the watchdog's line. Either is one located line and exit 2.
ALSO_RIGHT = {
    "user-swallows-the-stop": "error: spec.yaml:1: module 'mynorms:N': did not finish within 1 s "
    "(allow more with --timeout SECONDS)",
}


@pytest.mark.skipif(os.name != "posix", reason="FIFOs, links and devices as POSIX has them")
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name in IN_A_PROCESS else []) for c in CASES],
)
def test_bad_input_is_one_located_line(case: Case, tmp_path: Path, invoke: Invoke) -> None:
    materialize(case, tmp_path)
    before = {name: _digest(tmp_path / name) for name in case.intact}
    if case.name in IN_A_PROCESS:
        proc: Result | subprocess.CompletedProcess[str] = run_case(case, tmp_path)
    else:
        proc = invoke(*case.args, cwd=tmp_path, env={"INVCHECK_DEBUG": None})
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 2, proc.stderr
    if proc.stdout.startswith("ERR "):  # a check that could not run: its own line, the others run on
        message = expected()[case.name].removeprefix("error: ")
        (line, rerun, explain, summary) = proc.stdout.splitlines()
        assert message in line and summary == "0 passed, 0 failed, 1 error"
        assert rerun.startswith("     re-run:  invcheck run ") and explain.startswith("     explain: ")
        assert proc.stderr.splitlines() == [expected()[case.name]]  # and the error's line on stderr
    else:
        assert proc.stdout == ""
        assert proc.stderr.splitlines() in ([expected()[case.name]], [ALSO_RIGHT.get(case.name)])
    assert {name: _digest(tmp_path / name) for name in case.intact} == before
    assert not list(tmp_path.glob("**/.*.tmp")) and not (tmp_path / "MARKER").exists()


def test_the_corpus_is_large_and_fully_expected() -> None:
    names = [c.name for c in CASES]
    assert len(names) >= 60 and len(set(names)) == len(names)
    assert set(expected()) == set(names)


# The pytest plugin: a broken spec is one failing item, every other test runs, nothing planted runs.

PLANTED = "open('MARKER', 'w').write('planted code ran')\n"


@pytest.mark.slow
def test_pytest_session_survives_broken_specs_and_planted_modules(pytester: pytest.Pytester) -> None:
    (pytester.path / "bad.invcheck.yaml").write_text(
        "norm: layer_norm\ntransform: dataset_rescale\ntrials: !!float x\n"
    )
    (pytester.path / "deep.invcheck.yaml").write_text(
        "norm: layer_norm\nname: " + "[" * 3000 + "]" * 3000 + "\n"
    )
    (pytester.path / "user.invcheck.yaml").write_text(
        'norm: {module: "numpy:N"}\ntransform: dataset_rescale\n'
    )
    for name in ("numpy.py", "torch.py", "yaml.py"):
        (pytester.path / name).write_text(PLANTED)
    (pytester.path / "test_ok.py").write_text(
        "def test_one():\n    assert True\n\ndef test_two():\n    assert True\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(passed=2, errors=3)  # none could run: errors, one line each
    result.stdout.fnmatch_lines(
        [
            "bad.invcheck.yaml:3: cannot read 'x' as !!float (could not convert string to float: 'x')",
            "deep.invcheck.yaml:2: values nested more than 64 deep",
            "user.invcheck.yaml:1: module 'numpy:N' would import and run user code; pass --invcheck-allow-import*",
        ]
    )
    assert "Traceback" not in result.stdout.str() and not (pytester.path / "MARKER").exists()


# The Python API: the same rules, the same messages, as SpecError.


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"tolerance": "1e-3"},
            "invcheck.api.check(): tolerance must be a number, got '1e-3' (write tolerance=1e-3 without quotes)",
        ),
        (
            {"seed": 2**70},
            "invcheck.api.check(): seed must be an integer in [0, 9223372036854775807], got 1180591620717411303424",
        ),
        (
            {"groups": 4},
            "invcheck.api.check(): groups applies only to group_norm, not 'layer_norm' (remove it)",
        ),
        (
            {"groups": 2},
            "invcheck.api.check(): groups applies only to group_norm, not 'layer_norm' (remove it)",
        ),  # the default
        (
            {"trials": 10**12},
            "invcheck.api.check(): trials must be an integer in [1, 100000], got 1000000000000",
        ),
        (
            {"shift": 1e-300, "transform": "dataset_recenter"},
            "invcheck.api.check(): shift must be a number in [0.001, 1e+06], got 1e-300",
        ),
    ],
)
def test_api_misuse_is_the_spec_message(kwargs: dict, message: str) -> None:
    from invcheck.api import check
    from invcheck.errors import SpecError

    kwargs = {"norm": "layer_norm", "transform": "dataset_rescale", **kwargs}
    with pytest.raises(SpecError) as info:
        check(**kwargs)
    assert str(info.value) == message


@pytest.mark.slow
def test_user_code_printing_never_corrupts_json(tmp_path: Path) -> None:
    import json

    (tmp_path / "noisy.py").write_text(
        "import os\nimport torch\nprint('hello from import')\n"
        "class LN(torch.nn.Module):\n"
        "    def forward(self, a):\n"
        "        os.write(1, b'raw bytes on fd 1')\n"
        "        return (a - a.mean(1, keepdim=True)) / a.std(1, unbiased=False, keepdim=True)\n"
    )
    (tmp_path / "spec.yaml").write_text(
        'norm: {module: "noisy:LN", id: layer_norm}\ntransform: case_rescale\ntrials: 2\n'
        "seed: 9223372036854775807\n"
    )  # the largest seed, user code too
    case = Case("json", {}, ("run", "spec.yaml", "--allow-import", "--format", "json"))
    proc = run_case(case, tmp_path)
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)
    assert "hello from import" in proc.stderr and "raw bytes on fd 1" in proc.stderr


@pytest.mark.slow  # a second of deadline
def test_pytest_user_code_that_hangs_fails_after_the_timeout(pytester: pytest.Pytester) -> None:
    """In this process (pytester's inline session): the deadline's alarm stops the loop as it would
    in a pytest process of its own; code that defeats it ends the process (the test below)."""
    (pytester.path / "slow.invcheck.yaml").write_text(
        'norm: {module: "slow:N"}\ntransform: dataset_rescale\n'
    )
    (pytester.path / "slow.py").write_text("while True:\n    pass\n")
    (pytester.path / "test_ok.py").write_text("def test_one():\n    assert True\n")
    from invcheck import timeouts

    saved = dict(timeouts.DEADLINE)  # --invcheck-timeout sets it for the process: for this session only
    try:
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--invcheck-allow-import", "--invcheck-timeout", "1"
        )
    finally:
        timeouts.DEADLINE.update(saved)
    result.assert_outcomes(passed=1, errors=1)  # it could not finish: an error, as in `invcheck run`
    result.stdout.fnmatch_lines(
        [
            "slow.invcheck.yaml:1: module 'slow:N': did not finish within 1 s "
            "(allow more with --invcheck-timeout SECONDS)"
        ]
    )


@pytest.mark.slow
def test_pytest_user_code_that_defeats_the_deadline_ends_the_session_with_its_line(
    pytester: pytest.Pytester,
) -> None:
    """The watchdog ends the process (nothing else can stop such code): its one line must get past
    pytest's capture of stderr, which dies with the process."""
    (pytester.path / "stubborn.invcheck.yaml").write_text(
        'norm: {module: "stubborn:N"}\ntransform: dataset_rescale\n'
    )
    (pytester.path / "stubborn.py").write_text(
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
        "    except BaseException:\n        pass\n"
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--invcheck-allow-import", "--invcheck-timeout", "1", timeout=TIMEOUT
    )
    assert result.ret == 2
    assert [line for line in result.errlines if line.startswith("error:")] == [
        "error: stubborn.invcheck.yaml:1: module 'stubborn:N': still running after 2 s, past its deadline, which it "
        "defeated (ignored SIGALRM, or swallowed the stop): invcheck stops here"
    ]


def test_a_hand_built_config_with_a_wrong_section_is_a_type_error() -> None:
    from invcheck.api import assert_invariant
    from invcheck.settings import CheckConfig

    with pytest.raises(TypeError) as info:
        assert_invariant(CheckConfig(norm="layer_norm"))
    assert str(info.value) == (
        "CheckConfig norm must be a NormConfig, got 'layer_norm' "
        "(write norm=NormConfig(...), or use invcheck.check(norm=...))"
    )
