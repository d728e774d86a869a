"""While user code runs, sys.stdout and sys.stderr cannot be closed by it (unclosable.py,
impls/user_load.guarded): under the pytest plugin sys.stdout is pytest's capture of stderr then, and
a layer's `sys.stdout.close()` ended the whole pytest session ('lost sys.stderr')."""

from __future__ import annotations

import io
import sys
import textwrap

import pytest

from invcheck.impls.user_load import guarded
from invcheck.unclosable import Unclosable


class _Stream(io.TextIOWrapper):
    """A stream whose fileno and isatty answer as a terminal's would."""

    def isatty(self) -> bool:
        return True


def test_closing_the_streams_user_code_sees_leaves_them_open(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    err = _Stream(raw, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stderr", err)
    with guarded():
        print("printed")
        sys.stdout.write("written\n")
        sys.stdout.buffer.write(b"bytes\n")
        assert sys.stdout.isatty() and sys.stderr.isatty()
        sys.stdout.close()
        sys.stderr.close()
        sys.stdout.buffer.close()
        with sys.stderr as same:
            same.write("in a with block\n")
        sys.stdout.detach().close()
        print("after the closes")
    assert not err.closed and not raw.closed
    assert sys.stderr is err
    err.flush()
    assert raw.getvalue().decode() == "printed\nwritten\nbytes\nin a with block\nafter the closes\n"


def test_the_file_descriptor_is_the_stream_s() -> None:
    stream = Unclosable(sys.__stderr__)
    assert stream.fileno() == sys.__stderr__.fileno()
    assert stream.encoding == sys.__stderr__.encoding


def test_a_layer_closing_sys_stdout_under_the_plugin_leaves_the_session(pytester: pytest.Pytester) -> None:
    """In its own process: the old code ended it (exit 1, 'lost sys.stderr', no test reported)."""
    (pytester.path / "closing.py").write_text(
        textwrap.dedent(
            """\
            import sys
            from torch import nn


            class Closes(nn.Module):
                def __init__(self, features):
                    super().__init__()

                def forward(self, a):
                    sys.stdout.close()
                    sys.stderr.close()
                    return a / a.norm(dim=-1, keepdim=True)
            """
        )
    )
    (pytester.path / "s.invcheck.yaml").write_text(
        'norm: {module: "closing:Closes", kwargs: {features: "{units}"}}\n'
        "transform: dataset_rescale\nexpect: invariant\ntrials: 2\n"
    )
    (pytester.path / "test_after.py").write_text("def test_after():\n    print('still here')\n")
    result = pytester.runpytest_subprocess("--invcheck-allow-import", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "lost sys.stderr" not in result.stdout.str() + result.stderr.str()


def test_a_thread_printing_while_the_streams_are_put_back_is_safe() -> None:
    """`print` holds sys.stdout without a reference of its own: a new Unclosable per call, freed as
    sys.stdout was put back, was used after it was freed by a thread printing then (a segfault, or a
    RecursionError in the thread). In its own process: a crash is the point."""
    import subprocess

    code = textwrap.dedent(
        """\
        import sys, threading, time
        from invcheck.impls.user_load import guarded


        class Slow:  # a write that lets the main thread run meanwhile
            def write(self, text):
                time.sleep(0.0005)
                return len(text)

            def flush(self):
                pass


        sys.stderr = Slow()
        threading.excepthook = lambda args: sys.__stderr__.write(f"Traceback: {args.exc_type.__name__}\\n")

        def talk():
            while True:
                print("chatter")

        with guarded():
            threading.Thread(target=talk, daemon=True).start()
        for _ in range(2000):
            with guarded():
                time.sleep(0.0002)
        sys.__stdout__.write("done\\n")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done" in done.stdout and "Traceback" not in done.stderr
