"""Issue 18's hostile user code and files: each case reproduced through `invcheck run`, as a user
would meet it. Hostile user code runs in a real process (file descriptors, forks, threads, signals
and the process's end are the point: slow); the file cases run the command in-process (`invoke`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke

HOSTILE = """
import os, sys, threading, time
import torch
from torch import nn


class Base(nn.Module):
    def __init__(self, units):
        super().__init__()
        self.eps = 1e-5

    def forward(self, a):
        mu = a.mean(-1, keepdim=True)
        return (a - mu) / torch.sqrt((a - mu).pow(2).mean(-1, keepdim=True) + self.eps)


class Chdir(Base):
    def __init__(self, units):
        super().__init__(units)
        os.makedirs("elsewhere", exist_ok=True)
        os.chdir("elsewhere")


class Chatty(Base):
    started = False

    def __init__(self, units):
        super().__init__(units)
        if not Chatty.started:
            Chatty.started = True

            def talk():
                while True:
                    print("chatter", flush=True)
                    os.write(1, b"raw chatter\\n")
                    time.sleep(0.005)

            threading.Thread(target=talk, daemon=True).start()


class Forker(Base):
    forked = False

    def forward(self, a):
        if not Forker.forked:
            Forker.forked = True
            os.fork()
        return super().forward(a)


class Meta(Base):
    def __init__(self, units):
        super().__init__(units)
        self.weight = nn.Parameter(torch.ones(units))
        torch.set_default_device("meta")


class Sparse(Base):
    def forward(self, a):
        return super().forward(a).to_sparse()


class SlowDel(Base):
    def __del__(self):
        time.sleep(30)


class CallsCli(Base):
    def __init__(self, units):
        super().__init__(units)
        from invcheck.cli import main

        sys.argv = ["invcheck", "--help"]
        main()


class StubTimer(Base):
    def forward(self, a):
        import signal

        signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
        signal.signal = lambda *args, **kwargs: None
        return super().forward(a)


class DelExit(Base):
    def __del__(self):
        os._exit(7)


def _stealing(real):
    def fake(f, mode="r", *args, **kwargs):
        if any(c in str(mode) for c in "wxa"):
            f = "STOLEN_" + os.path.basename(str(f))
        return real(f, mode, *args, **kwargs)

    return fake


class StealOpen(Base):
    def forward(self, a):
        import builtins, io

        builtins.open = io.open = _stealing(io.open)
        return super().forward(a)


class LateOpen(Base):
    started = False
    delay = 0.01

    def forward(self, a):
        import builtins, io

        def steal():
            time.sleep(self.delay)
            builtins.open = io.open = _stealing(io.open)

        if not LateOpen.started:
            LateOpen.started = True
            threading.Thread(target=steal, daemon=True).start()
        return super().forward(a)


class LaterOpen(LateOpen):  # after its check has ended
    delay = 0.3


class ExitStub(Base):
    def forward(self, a):
        sys.exit = lambda *args: None
        return super().forward(a)


class IgnoresStop(Base):
    def forward(self, a):
        import signal

        open("started", "w").close()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        time.sleep(0.3)
        return super().forward(a)


class FakePid(Base):  # the owner looked like a forked child: exit 0, no report
    def forward(self, a):
        os.getpid = lambda: 1
        return super().forward(a)


class JsonJunk(Base):  # the report's encoder, patched: a JSON report of junk
    def forward(self, a):
        import json

        json.dumps = lambda *args, **kw: "JUNK"
        json.JSONEncoder.encode = lambda self, o: "JUNK"
        return super().forward(a)


class MathLies(Base):  # later checks' verdicts read math: they came back undefined
    def forward(self, a):
        import math

        math.isnan = lambda x: True
        return super().forward(a)


class ClockRaises(Base):  # invcheck's own timing read the clock: exit 3, no report
    def forward(self, a):
        def gone():
            raise RuntimeError("clock gone")

        time.perf_counter = time.monotonic = gone
        return super().forward(a)


class Liar(torch.Tensor):  # answers invcheck's own arithmetic on it: zeros for a difference
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        r = super().__torch_function__(func, types, args, kwargs or {})
        if isinstance(r, torch.Tensor) and func.__name__ in ("sub", "__sub__", "abs", "amax", "max"):
            return torch.zeros_like(r.as_subclass(torch.Tensor)).as_subclass(Liar)
        return r


class LyingOutput(Base):  # not invariant (a + 1 breaks re-scaling), returned as a Liar
    def forward(self, a):
        return (super().forward(a) + a).as_subclass(Liar)


class SwapsFolder(Base):
    def forward(self, a):
        if not os.path.islink("outd"):
            os.rename("outd", "outd_old")
            os.symlink("stolen", "outd")
        return super().forward(a)
"""
EXIT_AT_IMPORT = """
import sys
sys.exit = lambda *args: None
from hostile_t import Base
"""
SPEC = """checks:
  - norm: {{id: layer_norm, module: "hostile_t:{name}", kwargs: {{units: "{{units}}"}}}}
    transform: dataset_rescale
  - norm: layer_norm
    transform: dataset_rescale
"""
# what the user check must give; the built-in check after it is always invariant
WANTED = {
    "Chdir": "invariant",
    "Chatty": "invariant",
    "Forker": "invariant",
    "Meta": "invariant",
    "Sparse": "error",
    "SlowDel": "error",
    "CallsCli": "error",
    "StubTimer": "invariant",  # the deadline's timer is still stopped: no SIGALRM ends the run
    "DelExit": "error",  # os._exit in a __del__ run when the check's objects are collected
}
# Names user code rebinds that invcheck reads while it checks, judges and reports: one run of all of
# them, each followed by a built-in check that must be untouched (one process: they are put back)
STEERING = {
    "FakePid": "invariant",  # os.getpid: the run looked like a forked child (exit 0, no report)
    "JsonJunk": "invariant",  # json.dumps, JSONEncoder.encode: a JSON report of junk
    "MathLies": "undefined",  # math.isnan: its own check reads its patch; the next does not
    "ClockRaises": "invariant",  # time.perf_counter, time.monotonic raising: exit 3
    "LyingOutput": "not_invariant",  # a tensor subclass answering invcheck's arithmetic: read as plain
}


def invcheck(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(folder), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "invcheck", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here: Path = tmp_path_factory.mktemp("hostile")
    (here / "hostile_t.py").write_text(textwrap.dedent(HOSTILE))
    (here / "exit_at_import_t.py").write_text(EXIT_AT_IMPORT)
    for name in ["IgnoresStop", "SwapsFolder"]:
        (here / f"{name}.yaml").write_text(SPEC.format(name=name))
    return here


def test_user_code_cannot_steer_a_run_through_names_invcheck_reads(folder: Path) -> None:
    spec = "checks:\n" + "".join(
        f'  - norm: {{id: layer_norm, module: "hostile_t:{name}", kwargs: {{units: "{{units}}"}}}}\n'
        "    transform: dataset_rescale\n  - norm: layer_norm\n    transform: dataset_rescale\n"
        for name in STEERING
    )
    (folder / "steering.yaml").write_text(spec)
    done = invcheck(folder, "run", "steering.yaml", "--allow-import", "--format", "json", "-o", "steer.json")
    wanted = [v for verdict in STEERING.values() for v in (verdict, "invariant")]
    report = json.loads((folder / "steer.json").read_text())  # written: FakePid lost it
    assert [r["verdict"] for r in report["results"]] == wanted, done.stderr
    assert done.returncode == 0 and "internal error" not in done.stderr


@pytest.mark.slow
def test_user_code_cannot_move_corrupt_or_duplicate_a_report(folder: Path) -> None:
    """All of WANTED's layers in one run (one torch import, not nine), each followed by a built-in
    check: each user check gets its verdict and none of them reaches the check after it."""
    spec = "checks:\n" + "".join(
        f'  - norm: {{id: layer_norm, module: "hostile_t:{name}", kwargs: {{units: "{{units}}"}}}}\n'
        "    transform: dataset_rescale\n  - norm: layer_norm\n    transform: dataset_rescale\n"
        for name in WANTED
    )
    (folder / "reports.yaml").write_text(spec)
    # -o /dev/stdout: the process's own descriptor 1, written through (not replaced by a file)
    done = invcheck(
        folder,
        "run",
        "reports.yaml",
        "--allow-import",
        "--format",
        "json",
        "--timeout",
        "2",
        "-o",
        "/dev/stdout",
    )
    report = json.loads(done.stdout)  # one JSON document: no thread's chatter, no forked child's report
    wanted = [v for verdict in WANTED.values() for v in (verdict, "invariant")]
    assert [r["verdict"] for r in report["results"]] == wanted, done.stderr
    assert done.returncode == 2, done.stderr  # some are errors
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "internal error" not in done.stderr and "Usage:" not in done.stderr
    for name, verdict in WANTED.items():  # each error is its own check's line, none lost
        assert (f"module 'hostile_t:{name}'" in done.stderr) == (verdict == "error"), name


@pytest.mark.slow
def test_output_paths_are_fixed_before_user_code_runs_and_open_rebound_cannot_divert_them(
    folder: Path,
) -> None:
    """One run: a layer raising an exception whose text has bidi characters (Bidi: escaped in the
    JUnit file), `builtins.open`/`io.open` rebound in forward (StealOpen) or by a thread after its
    check (LateOpen), then a layer that changes the working folder (Chdir), each followed by a
    built-in check: the report and the JUnit file land where the command line named them, whole,
    and the report's writer does not go through the rebound open."""
    names = ["StealOpen", "LateOpen", "Chdir"]
    (folder / "bidi_t.py").write_text(
        "class Bidi:\n    def __call__(self, a):\n        raise ValueError('evil \\u202e gnp.exe')\n"
    )
    bidi = "  - norm: {id: layer_norm, module: 'bidi_t:Bidi'}\n    transform: dataset_rescale\n"
    spec = (
        "checks:\n"
        + bidi
        + "".join(
            f'  - norm: {{id: layer_norm, module: "hostile_t:{name}", kwargs: {{units: "{{units}}"}}}}\n'
            "    transform: dataset_rescale\n  - norm: layer_norm\n    transform: dataset_rescale\n"
            for name in names
        )
    )
    (folder / "paths.yaml").write_text(spec)
    done = invcheck(
        folder, "run", "paths.yaml", "--allow-import", "-f", "json", "-o", "r.json", "--junit-xml", "j.xml"
    )
    assert done.returncode == 2, done.stderr  # Bidi's error
    verdicts = [r["verdict"] for r in json.loads((folder / "r.json").read_text())["results"]]
    assert verdicts == ["error"] + ["invariant"] * (2 * len(names)), done.stderr
    xml = (folder / "j.xml").read_text(encoding="utf-8")
    assert xml.startswith("<?xml")
    assert (
        "\u202e" not in xml and "evil \\u202e gnp.exe" in xml
    )  # a user exception's bidi characters, escaped
    assert not (folder / "elsewhere" / "r.json").exists() and not (folder / "elsewhere" / "j.xml").exists()
    assert not list(folder.rglob("STOLEN_*"))


FAILING = """checks:
  - norm: {{id: layer_norm, module: "{module}", kwargs: {{units: "{{units}}"}}}}
    transform: dataset_rescale
  - norm: rms_norm
    transform: dataset_recenter
    expect: invariant
"""


@pytest.mark.slow
def test_user_code_rebinding_sys_exit_cannot_turn_a_failing_run_green(folder: Path) -> None:
    """sys.exit rebound in forward (ExitStub) and at a module's import (exit_at_import_t), both in
    one run whose last check fails: the run still exits 1 (either rebinding left in place would
    leave a no-op sys.exit at the end and exit 0)."""
    failing = FAILING.format(module="exit_at_import_t:Base")
    stub = 'checks:\n  - norm: {id: layer_norm, module: "hostile_t:ExitStub", kwargs: {units: "{units}"}}\n'
    stub += "    transform: dataset_rescale\n"
    (folder / "failing.yaml").write_text(stub + failing.removeprefix("checks:\n"))
    done = invcheck(folder, "run", "failing.yaml", "--allow-import")
    assert done.returncode == 1, done.stderr
    assert "0 passed, 1 failed" in done.stdout


@pytest.mark.slow
def test_sigterm_ends_a_run_whose_user_code_ignores_it(folder: Path) -> None:
    """A layer setting SIGTERM and SIGINT to SIG_IGN changes no handler while it runs: a CI
    runner's cancel that arrives then still ends the run at once."""
    import signal
    import time

    (folder / "started").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(folder), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "invcheck", "run", "IgnoresStop.yaml", "--allow-import", "--timeout", "60"]
    with subprocess.Popen(
        args, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as run:
        deadline = time.monotonic() + 60
        while not (folder / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # inside the layer's forward, after it set SIG_IGN
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=10) == -signal.SIGTERM


@pytest.mark.slow
def test_user_code_swapping_the_output_folder_cannot_move_the_report(folder: Path) -> None:
    for name in ("outd", "stolen"):
        (folder / name).mkdir()
    done = invcheck(folder, "run", "SwapsFolder.yaml", "--allow-import", "-o", "outd/r.json")
    assert done.returncode == 0, done.stderr
    assert not (folder / "stolen" / "r.json").exists()
    assert (folder / "outd_old" / "r.json").is_file()  # the folder named at the start, wherever it went
    assert "outd was moved or replaced while the checks ran" in done.stderr


# Files ------------------------------------------------------------------------------------------

OK = "norm: layer_norm\ntransform: dataset_rescale\n"


@pytest.fixture
def spec_folder(tmp_path: Path) -> Path:
    (tmp_path / "ok.yaml").write_text(OK)
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_a_report_never_gets_setuid_or_setgid_bits(spec_folder: Path, invoke: Invoke) -> None:
    target = spec_folder / "r.json"
    target.write_text("{}")
    target.chmod(0o6755)
    done = invoke("run", "ok.yaml", "-f", "json", "-o", "r.json", cwd=spec_folder)
    assert done.returncode == 0, done.stderr
    assert target.stat().st_mode & 0o7777 == 0o644


def test_a_trailing_slash_names_a_folder(spec_folder: Path, invoke: Invoke) -> None:
    done = invoke("run", "ok.yaml", "-o", "out.json/", cwd=spec_folder)
    assert done.returncode == 2 and "out.json is not a folder" in done.stderr, done.stderr
    assert not (spec_folder / "out.json").exists()


# `-o /dev/stdout` written through: test_user_code_cannot_move_corrupt_or_duplicate_a_report's run


def test_one_spec_spelled_two_ways_runs_once(spec_folder: Path, invoke: Invoke) -> None:
    done = invoke("run", "ok.yaml", "sub/../ok.yaml", "-f", "json", cwd=spec_folder)
    assert len(json.loads(done.stdout)["results"]) == 1


def test_a_hard_link_to_a_spec_and_a_check_also_selected_run_once(spec_folder: Path, invoke: Invoke) -> None:
    os.link(spec_folder / "ok.yaml", spec_folder / "hard.yaml")
    for args in (["ok.yaml", "hard.yaml"], ["ok.yaml", "ok.yaml::dense/layer_norm/dataset_rescale"]):
        done = invoke("run", *args, "-f", "json", cwd=spec_folder)
        assert len(json.loads(done.stdout)["results"]) == 1, args


@pytest.mark.parametrize("junit", ["/dev/stdout", "both.txt"])
def test_junit_xml_on_the_report_s_own_stdout_is_refused(spec_folder: Path, junit: str) -> None:
    """`--junit-xml` naming the file stdout writes to (by what it resolves to): two reports mixed."""
    with open(spec_folder / "both.txt", "wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "invcheck", "run", "ok.yaml", "-f", "json", "--junit-xml", junit],
            cwd=spec_folder,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == 2, done.stderr
    assert "it is standard output, where the run's report goes" in done.stderr
    assert (spec_folder / "both.txt").read_text() == ""


def test_control_characters_in_a_spec_s_name_never_reach_the_terminal(
    spec_folder: Path, invoke: Invoke
) -> None:
    name = "p\x1b]0;TITLE\x07\nx.yaml"
    (spec_folder / name).write_text("norm: rms_norm\ntransform: dataset_recenter\nexpect: invariant\n")
    done = invoke("run", name, cwd=spec_folder)
    assert done.returncode == 1
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "re-run:  invcheck run $'p\\x1b]0;TITLE\\x07\\nx.yaml::" in done.stdout
    assert len([line for line in done.stdout.splitlines() if "re-run:" in line]) == 1


def test_a_base_60_number_is_refused_at_its_line(spec_folder: Path, invoke: Invoke) -> None:
    (spec_folder / "b60.yaml").write_text("norm: layer_norm\ntransform: dataset_rescale\nseed: 1:30\n")
    done = invoke("validate", "b60.yaml", cwd=spec_folder)
    assert done.returncode == 2
    assert done.stderr == (
        "error: b60.yaml:3: '1:30' is a YAML 1.1 base-60 number (90): write the number itself, or quote it as text\n"
    )


def test_an_existing_folder_with_a_slash_says_what_helps(spec_folder: Path, invoke: Invoke) -> None:
    done = invoke("run", "ok.yaml", "-o", "sub/", cwd=spec_folder)
    assert done.returncode == 2
    assert "cannot write sub/: it is a directory (name a file inside it)" in done.stderr
    assert "drop it" not in done.stderr


def test_sigterm_while_writing_leaves_no_temporary_file(spec_folder: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from invcheck.cli import common\n"
        "real = common._replace\n"
        "def slow(a, b, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    real(a, b, **kwargs)\n"
        "common._replace = slow\n"
        "common.write_output('{}', Path('r.json'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=spec_folder, capture_output=True, text=True)
    assert done.returncode == -15, done.stderr
    assert [p.name for p in spec_folder.iterdir() if p.name.endswith(".tmp")] == []


# Spec and plugin --------------------------------------------------------------------------------


def test_a_transform_mapping_without_id_is_refused(spec_folder: Path, invoke: Invoke) -> None:
    (spec_folder / "noid.yaml").write_text("norm: layer_norm\ntransform: {scale: [0.5, 2]}\n")
    done = invoke("validate", "noid.yaml", cwd=spec_folder)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: noid.yaml:2: transform names neither an id nor a module")


def test_pytest_reports_a_self_looping_spec_link(pytester: pytest.Pytester) -> None:
    (pytester.path / "ok.invcheck.yaml").write_text(OK)
    (pytester.path / "loop.invcheck.yaml").symlink_to("loop.invcheck.yaml")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*loop.invcheck.yaml: a symbolic link that leads nowhere (or loops)*"])


@pytest.mark.slow  # its own pytest process: the thread rebinds open in the process it runs in
def test_a_thread_rebinding_open_cannot_divert_pytest_s_junit_xml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hostile_t=textwrap.dedent(HOSTILE))
    (pytester.path / "late.invcheck.yaml").write_text(SPEC.format(name="LaterOpen"))
    pytester.makepyfile(test_zzz="import time\n\n\ndef test_after():\n    time.sleep(1)\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--invcheck-allow-import", "--junit-xml=j.xml"
    )
    result.assert_outcomes(passed=3)
    assert (pytester.path / "j.xml").read_text().startswith("<?xml")
    assert not list(pytester.path.glob("STOLEN_*"))
