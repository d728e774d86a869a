"""The deadline's alarm when the code it limits blocks SIGALRM in the main thread: the timer's signal
then waits for another thread to take it, whenever that thread runs. The alarm takes what is still
pending before it puts the previous handler back, and gives the main thread its signal mask back:
otherwise the default handler, back in place, ended the whole run (exit 142, no report)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "sigtimedwait"), reason="SIGALRM timers and signal masks are POSIX"
)

# In a process of its own: one thread, so that nothing can take the signal before the alarm ends.
SCRIPT = textwrap.dedent(
    """
    import signal, time
    from invcheck import timeouts

    class Stop(BaseException):
        pass

    try:
        with timeouts.alarm(0.02, Stop, spared=lambda frame: False):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(0.2)  # the timer rings; the signal stays pending
    except Stop:
        print("stopped")
    print("pending" if signal.SIGALRM in signal.sigpending() else "none pending")
    print("blocked" if signal.SIGALRM in signal.pthread_sigmask(signal.SIG_BLOCK, ()) else "unblocked")
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})  # a pending one would end us here
    print("alive")
    """
)


def test_a_blocked_alarm_is_taken_before_the_default_handler_is_back_and_the_block_is_stopped() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.split("\n")[:4] == ["stopped", "none pending", "unblocked", "alive"]


# A user function that defeats the deadline, each way, then a built-in check: the first two were
# stopped by the watchdog (the whole process, exit 2) or, racing it, by SIGALRM's default (exit 142).
HOSTILE = textwrap.dedent(
    """
    import signal
    import invcheck
    from invcheck.errors import UserCodeError

    def ignores(a):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass

    def blocks(a):
        signal.signal = lambda *args, **kwargs: None
        signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        while True:
            pass

    invcheck.set_timeout(0.3)
    for fn in (ignores, blocks, ignores):
        try:
            invcheck.invariance_error(fn, "dataset_rescale", trials=2)
        except UserCodeError as err:
            print("error", "did not finish within 0.3 s" in str(err))
    print(invcheck.invariance_error("layer_norm", "dataset_rescale", trials=2).verdict)
    """
)


def test_a_function_that_ignores_or_blocks_sigalrm_is_its_own_check_s_error() -> None:
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split("\n")[:4] == ["error True"] * 3 + ["invariant"]
