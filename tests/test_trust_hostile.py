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
    for name in WANTED:
        (here / f"{name}.yaml").write_text(SPEC.format(name=name))
    return here


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WANTED))
def test_user_code_cannot_move_corrupt_or_duplicate_a_report(folder: Path, name: str) -> None:
    done = invcheck(folder, "run", f"{name}.yaml", "--allow-import", "--format", "json", "--timeout", "2")
    report = json.loads(done.stdout)  # one JSON document: no thread's chatter, no forked child's report
    assert [r["verdict"] for r in report["results"]] == [WANTED[name], "invariant"], done.stderr
    assert done.returncode == (2 if WANTED[name] == "error" else 0), done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "internal error" not in done.stderr and "Usage:" not in done.stderr


@pytest.mark.slow
def test_output_paths_are_fixed_before_user_code_runs(folder: Path) -> None:
    done = invcheck(folder, "run", "Chdir.yaml", "--allow-import", "-o", "r.json", "--junit-xml", "j.xml")
    assert done.returncode == 0, done.stderr
    assert (folder / "r.json").is_file() and (folder / "j.xml").is_file()
    assert not (folder / "elsewhere" / "r.json").exists()


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


@pytest.mark.slow  # the process's own file descriptor 1
def test_dev_stdout_is_written_through(spec_folder: Path) -> None:
    done = invcheck(spec_folder, "run", "ok.yaml", "-f", "json", "-o", "/dev/stdout")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["verdict"] == "invariant"


def test_one_spec_spelled_two_ways_runs_once(spec_folder: Path, invoke: Invoke) -> None:
    done = invoke("run", "ok.yaml", "sub/../ok.yaml", "-f", "json", cwd=spec_folder)
    assert len(json.loads(done.stdout)["results"]) == 1


def test_sigterm_while_writing_leaves_no_temporary_file(spec_folder: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from invcheck.cli import common\n"
        "real = os.replace\n"
        "def slow(a, b):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    real(a, b)\n"
        "os.replace = slow\n"
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


@pytest.mark.slow
def test_junit_escapes_a_user_exceptions_bidi_characters(folder: Path) -> None:
    (folder / "bidi_t.py").write_text(
        "class Bidi:\n    def __call__(self, a):\n        raise ValueError('evil \\u202e gnp.exe')\n"
    )
    (folder / "bidi.yaml").write_text(
        "norm: {id: layer_norm, module: 'bidi_t:Bidi'}\ntransform: dataset_rescale\n"
    )
    done = invcheck(folder, "run", "bidi.yaml", "--allow-import", "--junit-xml", "jb.xml")
    assert done.returncode == 2
    xml = (folder / "jb.xml").read_text(encoding="utf-8")
    assert "\u202e" not in xml and "evil \\u202e gnp.exe" in xml
