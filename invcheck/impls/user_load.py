"""Finding and constructing user code (`module: "pkg.mod:Name"`), with one-line errors.

Every failure is a UserCodeError that names the check's file:line and the module string, and,
where the user's code raised, the line of their file that did: never a traceback.
The working directory, the spec's folder and its project's root are put on sys.path (at the
end, when missing) so that a `mypkg/norms.py` next to the spec or at the project's root imports
without installing anything, from the CLI as under pytest.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from time import monotonic  # bound here: user code may rebind time.monotonic
from typing import Any, NoReturn

from invcheck.display import shown_path
from invcheck.errors import UserCodeError
from invcheck.fds import dup_high
from invcheck.isolation import OsExit, kept, real_exit
from invcheck.project_config import find_pyproject
from invcheck.settings import CheckConfig, LayerConfig
from invcheck.spec_values import braced, did_you_mean
from invcheck.timeouts import DEADLINE, alarm, in_our_code, set_timeout, shielded  # noqa: F401 (set_timeout: where it was)
from invcheck.unclosable import unclosable

# What user code may raise that must not escape as a traceback or end the run: anything (sys.exit()
# and argparse at import raise SystemExit, which would end `invcheck run` with exit 0 and no
# report), except invcheck's own deadline, which `contained` lets through.
USER_FAILURES = (BaseException,)
_timeout = DEADLINE  # the name tests set a deadline below set_timeout's bounds by
# where nobody set the deadline: every place that can
_ANY_FLAG = "--timeout SECONDS (invcheck run, table), --invcheck-timeout SECONDS (pytest) or invcheck.set_timeout(seconds)"


class OutOfTime(BaseException):
    """Raised by the alarm when a check of user code runs past its deadline (BaseException, so
    that the user's `except Exception` cannot swallow it)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) while user code runs: the person running invcheck stopping the run, not a
    failure of the user's code (a KeyboardInterrupt the code raises itself stays its failure)."""


_HARD_EXIT = real_exit  # guarded() replaces os._exit while user code runs
_setsignal = signal.signal  # the real one: user code may rebind signal.signal


def release(exc: BaseException) -> None:
    """A check stopped by an exception: its traceback holds the check's frames, and they its objects.
    They die here (the traceback goes: read what it says first), inside the check's deadline, which past its first ring keeps stopping user code
    (timeouts.alarm), so that a __del__ that sleeps is stopped now; kept alive in the error's chain
    they ran later, unbounded (a sleeping __del__ per trial held the run for minutes)."""
    import gc

    while exc is not None:
        traceback.clear_frames(exc.__traceback__)
        exc.__traceback__ = None  # a cleared frame still holds its function, whose closure holds the objects
        exc = exc.__context__  # type: ignore[assignment]
    gc.collect()


def contained(exc: BaseException) -> None:
    """Re-raise what is invcheck's own (the deadline, a Ctrl-C); the caller turns the rest into one line."""
    if isinstance(exc, (OutOfTime, Interrupted)):
        raise exc


@contextlib.contextmanager
def deadline(check: CheckConfig) -> Iterator[None]:
    """A check of user code ends after the timeout with one line (SIGALRM on the main thread). Code
    that defeats the alarm (ignores SIGALRM, swallows BaseException), or runs where there is none
    (Windows, a worker thread), is stopped at twice the timeout by a watchdog: one line, exit 2."""
    seconds, started = float(DEADLINE["seconds"]), DEADLINE["started"]
    left = seconds if started is None else max(seconds - (monotonic() - started), 1e-3)
    watchdog = threading.Timer(left + seconds, _hard_stop, (check, 2 * seconds))
    watchdog.daemon = True
    try:
        watchdog.start()
    except RuntimeError as exc:  # no thread can start: a hard limit user code lowered, or its threads
        raise user_error(
            check,
            f"could not be checked: the deadline's watchdog thread cannot start ({first_line(exc)}): "
            "a resource limit lowered by user code (RLIMIT_AS, RLIMIT_NPROC), or threads it left running",
        ) from None
    try:
        if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
            yield
        else:
            with _alarm(check, left, seconds), _interruptible():
                yield
    finally:
        watchdog.cancel()


# Run before the watchdog ends the process (the pytest plugin lets its message past pytest's capture).
BEFORE_HARD_EXIT: list[Callable[[], None]] = []
# The watchdog's exit status: the command line's 2; a --jobs worker's own, which its parent reads back.
HARD_EXIT_STATUS = 2
WORKER_HARD_EXIT = 124


def _hard_stop(check: CheckConfig, seconds: float) -> None:
    message = user_error(
        check,
        f"still running after {seconds:g} s, past its deadline, which it defeated "
        f"(ignored SIGALRM, or swallowed the stop): invcheck stops here",
    )
    for hook in BEFORE_HARD_EXIT:
        try:
            hook()
        except Exception:
            pass
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    _HARD_EXIT(
        HARD_EXIT_STATUS
    )  # outputs are written whole at the end or not at all: none is left half written


@contextlib.contextmanager
def _alarm(check: CheckConfig, seconds: float, shown: float | None = None) -> Iterator[None]:
    """The deadline's stop: raised in user code (and torch's), never in invcheck's own frames (its
    cleanup: fd 1 put back, the process's state restored), and rung again every few ms until the
    check ends, so that a stop swallowed by a __del__ or an `except` is raised again."""
    try:
        with alarm(seconds, OutOfTime, spared=in_our_code), _unraisable(check):
            yield
    except OutOfTime:
        how = DEADLINE["flag"] or _ANY_FLAG
        within = seconds if shown is None else shown
        raise user_error(check, f"did not finish within {within:g} s (allow more with {how})") from None


@contextlib.contextmanager
def _unraisable(check: CheckConfig) -> Iterator[None]:
    """What Python cannot raise (an exception in a __del__, a finalizer): one line on stderr, not
    its raw "Exception ignored ... Traceback". The deadline's stop caught there needs no line: the
    alarm keeps ringing, and raises it again where it can (the check did not finish in time). An
    os._exit there (refused while the check is open: isolation.kept) makes the check an error, as it
    does in forward."""
    previous = sys.unraisablehook
    exits: list[str] = []

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, OutOfTime):
            return
        with contextlib.suppress(Exception):
            what = getattr(unraisable.object, "__qualname__", None) or type(unraisable.object).__name__
            if isinstance(exc, OsExit):
                exits.append(f"{exc} in {what}")
                return
            sys.stderr.write(f"warning: {user_error(check, f'{what} raised {first_line(exc)} (ignored)')}\n")

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
    if exits:
        raise user_error(check, f"could not be checked: {exits[0]}")


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C raises Interrupted, which `contained` lets through: it stops the run."""

    def interrupt(signum: int, frame: Any) -> None:
        raise Interrupted()

    previous = _setsignal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        _setsignal(signal.SIGINT, previous)


def _refuse_exit(status: int = 0) -> NoReturn:
    raise OsExit(f"os._exit({status}) called")


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """While user code runs: its prints, and its writes to file descriptor 1, go to stderr, so that
    stdout holds only invcheck's report (`--format json` stays JSON); sys.stdout and sys.stderr
    cannot be closed (unclosable.py); os._exit raises."""
    sys.stdout.flush()
    try:
        saved_fd = dup_high(1)  # out of reach of user code that closes its descriptors
        os.dup2(2, 1)
    except OSError:  # no fd 1 or 2: nothing to protect
        saved_fd = None
    saved_out, saved_err, saved_exit = sys.stdout, sys.stderr, os._exit
    # stderr for both, neither closable by user code: its close() closed pytest's capture of stderr
    sys.stdout, sys.stderr, os._exit = unclosable(sys.stderr), unclosable(sys.stderr), _refuse_exit
    try:
        with kept():  # its chdir, torch defaults and forked children end with the call (isolation.py)
            yield
    finally:
        with shielded():  # no deadline's stop leaves stdout on stderr
            with contextlib.suppress(Exception):  # what user code printed (sys.stderr may be None now)
                saved_err.flush()
            sys.stdout, os._exit = saved_out, saved_exit
            if sys.stderr is not saved_err:
                sys.stderr = saved_err
            if saved_fd is not None:
                with contextlib.suppress(OSError):
                    os.dup2(saved_fd, 1)
                with contextlib.suppress(OSError):
                    os.close(saved_fd)


# Frames in these directories are invcheck's or torch's, not the user's.
_NOT_USER = (str(Path(__file__).resolve().parents[1]),)  # the invcheck package
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def user_error(check: CheckConfig, message: str, subject: str | None = None) -> UserCodeError:
    """`file:line: module 'pkg.mod:Name': message` (the spec's location; none from the command line
    or the API, which name the module themselves). `subject`: what else is at fault (a transform)."""
    where = f"{check.location}: " if check.location else ""
    subject = subject or f"module {check.norm.module!r}"
    return UserCodeError(f"{where}{subject}: {message}", message)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def raised_at(exc: BaseException) -> str:
    """' (at mypkg/norms.py:12)': the deepest frame in user code, or '' if none."""
    skip = (*_NOT_USER, _torch_dir(), "<frozen ")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(skip)]
    if not frames:
        return ""
    return f" (at {shown_path(frames[-1].filename)}:{frames[-1].lineno})"


def _torch_dir() -> str:
    torch = sys.modules.get("torch")
    return str(Path(torch.__file__).resolve().parent) if torch and torch.__file__ else "\0"


def make_importable(check: CheckConfig) -> None:
    """Make the working directory, the spec's folder and its project's root (the folder of the
    nearest pyproject.toml) importable; appended, so they never shadow an installed package."""
    folders = [os.getcwd()]
    if check.file:
        spec = Path(check.file).resolve()
        project = find_pyproject(spec)
        folders += [str(spec.parent)] + ([str(project.parent)] if project else [])
    for folder in folders:
        if all(os.path.abspath(p or os.curdir) != folder for p in sys.path):
            sys.path.append(folder)


def load(check: CheckConfig) -> Any:
    """The object `pkg.mod:Name` names (Name may be dotted: `pkg.mod:Outer.Inner`); for an object
    the caller holds (the API), a factory of its copies."""
    held = check.norm.obj
    if held is None:
        return load_path(check, check.norm.module or "")
    if held.how == "factory":
        return held.value
    # a callable a -> y runs as a partial of itself: its eps keyword can be read and switched off
    return _copies(check, held.value if held.how == "instance" else functools.partial(held.value))


def _copies(check: CheckConfig, obj: Any) -> Callable[[], Any]:
    """A factory of deep copies of `obj` (an instance, or a callable a -> y): each trial runs its own,
    cast and set up as invcheck needs, and the caller's object is never touched. A plain function
    is its own copy; a partial's keywords are copied (its eps may be switched off)."""

    def copy_of() -> Any:
        try:
            with guarded():
                return copy.deepcopy(obj, _fresh_lazy(obj))
        except USER_FAILURES as exc:
            contained(exc)
            raise user_error(check, f"cannot be copied (copy.deepcopy): {first_line(exc)}") from None

    return copy_of


def _fresh_lazy(obj: Any) -> dict[int, Any]:
    """A deepcopy memo giving each uninitialized parameter or buffer of a lazy module
    (nn.LazyBatchNorm1d, ...) a fresh uninitialized one: torch refuses to copy them, and they hold no
    value to copy (the copy takes its shapes from its first input, as the original would)."""
    import torch
    from torch.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy

    if not isinstance(obj, torch.nn.Module):
        return {}
    memo: dict[int, Any] = {}
    for tensor in (*obj.parameters(), *obj.buffers()):
        if is_lazy(tensor):
            fresh = UninitializedParameter if isinstance(tensor, torch.nn.Parameter) else UninitializedBuffer
            memo[id(tensor)] = fresh(  # type: ignore[call-arg]  # torch's stubs lack device and dtype
                requires_grad=tensor.requires_grad, device=tensor.device, dtype=tensor.dtype
            )
    return memo


def load_path(check: CheckConfig, spec: str, subject: str | None = None) -> Any:
    """The object an import path names, imported with one-line errors naming the check (and
    `subject`, where the path is not the norm's)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise user_error(check, "is not an import path (write it as 'package.module:Name')", subject)
    make_importable(check)
    module = _import(check, module_name, subject)
    _refuse_shadowed(check, module_name, module, subject)
    obj = module
    for depth, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = ".".join([module_name, *attr.split(".")[:depth]])
            names = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(part, names, f"it has: {', '.join(names[:12]) or 'nothing public'}")
            raise user_error(check, f"{owner!r} has no attribute {part!r} ({hint})", subject)
        obj = getattr(obj, part)
    return obj


def _refuse_shadowed(check: CheckConfig, name: str, module: Any, subject: str | None = None) -> None:
    """Python imports a name once, and the spec's folder comes last on sys.path: a `mynorms.py`
    beside this spec must not be silently replaced by another spec's `mynorms.py` imported
    earlier in the same run, nor a `numpy.py` by the installed numpy."""
    if not check.file:
        return
    top = name.split(".")[0]
    here = Path(check.file).resolve().parent
    local = [here / f"{top}.py", here / top / "__init__.py"]
    loaded = getattr(sys.modules.get(top), "__file__", None)
    if (
        loaded
        and any(p.is_file() for p in local)
        and Path(loaded).resolve() not in [p.resolve() for p in local]
    ):
        raise user_error(
            check,
            f"{top!r} beside this spec is shadowed by {shown_path(loaded)}, installed or "
            "imported earlier in this run (give the modules distinct names)",
            subject,
        )


def _import(check: CheckConfig, name: str, subject: str | None = None) -> Any:
    try:
        with guarded():
            return importlib.import_module(name)
    except SyntaxError as exc:
        where = f"{shown_path(exc.filename or '?')}:{exc.lineno}"
        raise user_error(check, f"syntax error in {where}: {exc.msg}", subject) from None
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            message = f"no module named {exc.name!r} (looked in the working directory {os.getcwd()}, the spec's folder, its project's root and sys.path)"
        else:  # the user's module imports something missing
            message = f"importing {name!r} failed: {first_line(exc)}{raised_at(exc)}"
        raise user_error(check, message, subject) from None
    except USER_FAILURES as exc:  # their module raised while running (sys.exit and argparse too)
        contained(exc)
        raise user_error(
            check, f"importing {name!r} raised {first_line(exc)}{raised_at(exc)}", subject
        ) from None


# kwargs: "{units}" and friends become the layer's numbers ------------------------------------------


def layer_numbers(layer: LayerConfig) -> dict[str, int]:
    """The placeholders a kwarg may use: the kind's sizes, and units = channels = out_channels
    (the normalized units: H dense, C_out conv), with what follows from them (out_size, fan_in)."""
    return layer.kind_spec.placeholders(layer)


def fill(check: CheckConfig, value: Any) -> Any:
    """kwargs with placeholders replaced; a string that is one placeholder becomes an int."""
    numbers = layer_numbers(check.layer)
    if isinstance(value, dict):
        return {k: fill(check, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(fill(check, v) for v in value)
    if not isinstance(value, str):
        return value
    for name in _PLACEHOLDER.findall(value):
        if name not in numbers:
            hint = did_you_mean(name, numbers, "known: " + ", ".join(numbers), spelled=braced)
            raise user_error(check, f"kwargs: unknown placeholder '{{{name}}}' in {value!r} ({hint})")
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return numbers[whole.group(1)]
    return _PLACEHOLDER.sub(lambda m: str(numbers[m.group(1)]), value)


def construct(check: CheckConfig, factory: Any, kwargs: dict[str, Any]) -> Any:
    """factory(**kwargs): a class or a function returning an nn.Module or a plain callable."""
    held = check.norm.obj
    name = held.label if held is not None else check.norm.module.partition(":")[2]  # type: ignore[union-attr]
    shown = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    if not callable(factory) or _is_module_instance(factory):
        raise user_error(check, f"names a {type(factory).__name__} object, not a class or a factory function")
    try:
        with guarded():
            obj = factory(**kwargs)
    except USER_FAILURES as exc:
        contained(exc)
        raise user_error(check, f"{shown} failed: {first_line(exc)}{raised_at(exc)}") from None
    if not callable(obj):
        raise user_error(check, f"{shown} returned a {type(obj).__name__}, which is not callable")
    return obj


def _is_module_instance(obj: Any) -> bool:
    from torch import nn

    return isinstance(obj, nn.Module)
