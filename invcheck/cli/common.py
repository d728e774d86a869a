"""What the commands share: output paths checked before the work, output written whole or not at
all, how a report looks where it goes, the import permission."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import signal
import stat
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from invcheck.display import clipped, shown_path
from invcheck.errors import InvcheckError
from invcheck.fds import dup_high

# Bound at import, before any user code runs: a layer (or a thread it left) that rebinds
# `signal.signal` or `io.open` cannot divert or stop the report's writer.
_setsignal = signal.signal


class OutputError(InvcheckError):
    """An --output or --junit-xml path that cannot be written, or must not be."""


STDOUT = Path("-")  # `-o -`: standard output, as no -o


class GuardedStdout:
    """sys.stdout for the command line: a write that fails (a full disk, `>&-`) is one line and
    exit 2 (OutputError), not an internal error; everything else is the stream's own."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream if stream is not None else _Closed()
        self._reserved = False

    def reserve(self) -> None:
        """Standard output kept for the report while user code runs: file descriptor 1 becomes
        stderr for the rest of the process (what user code writes there, from any thread, at any
        time, lands on stderr), and the report goes to the real stdout through a copy of it. Writes
        from other threads than the main one go to stderr too: a thread user code started cannot
        print into `--format json`; nor can a child it forked (isolation.py)."""
        if self._reserved or isinstance(self._stream, _Closed):
            return
        try:
            if (
                self._stream.fileno() != 1
            ):  # not the process's stdout (a test runner's buffer): nothing to guard
                return
            self._stream.flush()
            saved = dup_high(1)  # out of reach of user code that closes its descriptors
            os.dup2(2, 1)
        except (OSError, ValueError, AttributeError):  # no real file descriptor behind it
            return
        old = self._stream
        self._stream = io.TextIOWrapper(
            io.FileIO(saved, "w", closefd=True),
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "strict",
            line_buffering=bool(getattr(old, "line_buffering", False)),
        )
        self._reserved = True

    def write(self, text: str) -> int:
        if self._reserved:
            from invcheck.isolation import exit_if_forked

            exit_if_forked()
            if threading.current_thread() is not threading.main_thread():
                return sys.stderr.write(text)
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError, AttributeError):  # a test runner's buffer, or closed: its own write
            fd = None
        try:
            if fd is None:
                return self._stream.write(text)
            # straight to the descriptor, every byte or an error: a buffered write cut short
            # (EFBIG under `ulimit -f`) can end without one, leaving half a report and exit 0
            self._stream.flush()
            data = memoryview(text.encode(self._stream.encoding or "utf-8", self._stream.errors or "strict"))
            while data:
                data = data[os.write(fd, data) :]
            return len(text)
        except OSError as err:
            _failed(err)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            _failed(err)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _failed(err: OSError) -> NoReturn:
    """Standard output refused a write. Its reader gone (`| head`): the process ends as SIGPIPE ends
    cat, quietly, exit 141 (SIGPIPE itself stays ignored, as Python sets it, so that a pipe to a
    --jobs worker that died is an error its pool handles, not the end of the run). Else one line."""
    if isinstance(err, BrokenPipeError) and hasattr(signal, "SIGPIPE"):
        _setsignal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    raise OutputError(f"cannot write to standard output: {err.strerror or err}") from None


class _Closed(io.StringIO):
    """Standard output closed before the start (Python gives None): every write fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "it is closed")


def reserve_stdout() -> None:
    """sys.stdout kept for the report from here on (GuardedStdout.reserve), where it is the CLI's."""
    if isinstance(sys.stdout, GuardedStdout):
        sys.stdout.reserve()


# The working directory output paths are relative to: the command's, fixed before any user code
# runs (a constructor's os.chdir cannot send `-o r.json` into another folder).
_anchor: dict[str, str | None] = {"cwd": None}


def new_command() -> None:
    """A command starts: relative output paths are relative to where it starts; no folder is held
    from an earlier command run in this process."""
    for folder, _ in _FOLDERS.values():
        with contextlib.suppress(OSError):
            os.close(folder)
    _FOLDERS.clear()
    try:
        _anchor["cwd"] = os.getcwd()
    except OSError:
        _anchor["cwd"] = None


def anchored(path: Path) -> Path:
    """`path` as the file system must see it: relative to the command's working directory."""
    start = _anchor["cwd"]
    return path if path.is_absolute() or start is None else Path(start) / path


def check_outputs(outputs: Sequence[Path | None], inputs: Iterable[Path] = ()) -> None:
    """Refuse, before any work, an output that would replace an input spec, a path named twice
    (through links and other spellings too), a non-regular target, a missing or non-folder parent,
    a name the file system cannot take."""
    given = [path for path in outputs if path is not None and path != STDOUT]
    inputs = [path for path in inputs if path != STDOUT]  # `-` as an input is stdin, no file
    for i, path in enumerate(given):
        _check_writable(path)
        for spec in inputs:
            if _same_file(path, spec):
                raise OutputError(
                    f"cannot write {_shown(path)}: it is the input spec {_shown(spec)} "
                    "(choose another output path)"
                )
        for other in given[:i]:
            if _same_file(path, other):
                raise OutputError(f"cannot write {_shown(path)} twice: two outputs name the same file")


def check_options(**options: object) -> None:
    """Command-line values held to the rules a spec's values are (rules.py), with the same
    messages: `--seed must be an integer in [0, ...], got 1180591620717411303424`."""
    from invcheck import rules
    from invcheck.spec_values import Bad

    parsers = {**rules.CHECK_FIELDS, "eps": rules.NORM_FIELDS["eps"]}
    for key, value in options.items():
        try:
            parsers[key](value, f"--{key}")
        except Bad as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            raise InvcheckError(f"{exc}{hint}") from None


def check_cells(checks: Iterable) -> None:
    """Checks built from a command's options, held to the spec's rules before any work; the message
    names the setting, not a spec file or the Python API (`tf32 applies only on a CUDA device`)."""
    from invcheck.errors import SpecError
    from invcheck.rules import refuse_impossible

    for c in checks:
        try:
            refuse_impossible(c)
        except SpecError as err:
            if c.file is not None:
                raise
            raise InvcheckError(err.detail + (f" ({err.hint})" if err.hint else "")) from None


def _shown(path: Path) -> str:
    """An output path as the user gave it, for a one-line message."""
    return shown_path(path, relative=False)


def _check_writable(path: Path) -> None:
    _refuse_trailing_slash(path)
    if is_stdout(path) or stream_target(anchored(path)):
        return  # standard output, a terminal, pipe or device: written through, never replaced
    if os.path.islink(anchored(path)):
        raise OutputError(
            f"cannot write {_shown(path)}: it is a symbolic link (name its target, or remove the link)"
        )
    real = Path(os.path.realpath(anchored(path)))
    try:
        info = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):  # the parent is checked below
        info = None
    except OSError as err:
        raise OutputError(f"cannot write {_shown(path)}: {err.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise OutputError(f"cannot write {_shown(path)}: it is {kind}")
    parent = real.parent
    if not parent.exists():
        raise OutputError(
            f"cannot write {_shown(path)}: folder {_shown(path.parent)} does not exist (create it first)"
        )
    if not parent.is_dir():
        raise OutputError(f"cannot write {_shown(path)}: {_shown(path.parent)} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write {_shown(path)}: no permission to create files in {_shown(path.parent)}"
        )
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    if len(os.fsencode(real.name)) > limit - 16:  # room for the temporary file's prefix and suffix
        raise OutputError(
            f"cannot write {clipped(_shown(path), 43)}: the file name is longer than the file system allows"
        )
    _hold_folder(path, real)


def _refuse_trailing_slash(path: Path) -> None:
    """`-o out.json/`: the slash says "a folder" (pathlib drops it, so the command line's own
    spelling is read): refused, never a file `out.json` written instead."""
    ends = "/" + os.sep
    for arg in sys.argv[1:]:
        raw = arg.partition("=")[2] if arg.startswith("--") and "=" in arg else arg
        name = raw.rstrip(ends)
        if raw.endswith(tuple(ends)) and name and anchored(Path(name)) == anchored(path):
            why = (
                "it is a directory (name a file inside it)"
                if os.path.isdir(name)
                else f"{_shown(Path(name))} is not a folder (a trailing '/' names a folder; drop it to write the file)"
            )
            raise OutputError(f"cannot write {raw.encode('utf-8', 'backslashreplace').decode()}: {why}")


def stream_target(path: Path) -> bool:
    """Whether `path` is a link to a terminal, pipe, socket or device (`/dev/stdout`, `/dev/stderr`):
    written through in place, as shells write `> /dev/stdout`; a rename would replace the link.
    (A FIFO or device named itself stays refused: a FIFO nobody reads would hang the run.)"""
    if not os.path.islink(path):
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def is_stdout(path: Path) -> bool:
    """`-o /dev/stdout` (or /dev/fd/1, /proc/self/fd/1): the report's own standard output."""
    return os.fspath(path) in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", f"/proc/{os.getpid()}/fd/1")


def names_stdout(path: Path) -> bool:
    """`path` is, or resolves to, the file this process's standard output writes to (`/dev/stdout`,
    `/dev/fd/1`, the file stdout is redirected into)."""
    if is_stdout(path):
        return True
    try:
        here, out = os.stat(anchored(path)), os.fstat(1)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (out.st_dev, out.st_ino)


def _same_file(a: Path, b: Path) -> bool:
    """Whether a and b are one file: the same inode (links, hard links) or the same real path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def write_output(text: str | bytes, path: Path | None) -> None:
    """Print, or write whole-or-nothing: a temporary file renamed into place, never half a file,
    with the mode a new file gets from the umask (or the mode of the file it replaces). Both are made
    in the folder held open since the path was checked (`check_outputs`, before any user code ran):
    user code that renames the folder, or puts a link in its place, cannot move the report."""
    if isinstance(text, bytes):  # an image: to its file only
        assert path is not None and path != STDOUT
    elif path is None or path == STDOUT or is_stdout(path):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    held = _FOLDERS.get(_key(path))
    if held is None:  # not checked before the work (`invcheck schema`): checked, and held, now
        _check_writable(path)
        held = _FOLDERS.get(_key(path))
    if held is None:  # a terminal, pipe or device (a link to one): written through, never replaced
        _write_through(text, anchored(path))
        return
    folder, name = held
    _warn_if_moved(folder, path)
    try:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
    except UnicodeError as err:
        raise OutputError(f"cannot write {_shown(path)}: {str(err).splitlines()[0]}") from None
    tmp = f".{name[:40]}.{secrets.token_hex(4)}.tmp"
    try:
        mode = _mode_in(folder, name, path)
        fd = _os_open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600, dir_fd=folder
        )
    except OSError as err:  # a folder that passed the checks may still refuse a new file (/proc, a full disk)
        raise OutputError(f"cannot write {_shown(path)}: {err.strerror or err}") from None
    try:
        with _removed_on_sigterm(folder, tmp):
            try:
                view = memoryview(data)
                while view:
                    view = view[_write(fd, view) :]
                _fchmod(fd, mode)  # the temporary file's 0600 would hide a CI report from other users
            finally:
                _close(fd)
            _replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            if _exists_in(folder, tmp):  # a replace that did nothing: no file
                raise OSError(0, "the file could not be moved into place")
    except OSError as err:
        _unlink_in(folder, tmp)
        raise OutputError(f"cannot write {_shown(path)}: {err.strerror or err}") from None
    except BaseException:
        _unlink_in(folder, tmp)
        raise


# The folder of each output file, open (a descriptor out of user code's reach) from the moment its
# path is checked, and the file's name in it: {anchored path: (folder's descriptor, name)}.
_FOLDERS: dict[str, tuple[int, str]] = {}
# Bound at import: a thread user code left running may rebind os's names after its check.
_os_open, _write, _close, _fchmod, _replace, _unlink, _stat = (
    os.open,
    os.write,
    os.close,
    os.fchmod,
    os.replace,
    os.unlink,
    os.stat,
)


def _warn_if_moved(folder: int, path: Path) -> None:
    """The folder named for `path` is another one now (user code renamed it, or put a link in its
    place): the report still goes into the folder that was named, and one line says so."""
    try:
        held, now = os.fstat(folder), os.stat(anchored(path).parent)
        moved = (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino)
    except OSError:
        moved = True
    if moved:
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"warning: {_shown(path.parent)} was moved or replaced while the checks ran: "
                f"{_shown(path)} is written into the folder it named at the start\n"
            )


def _key(path: Path) -> str:
    return os.fspath(anchored(path))


def _hold_folder(path: Path, real: Path) -> None:
    """Open the folder `real` lies in, once, before any user code runs."""
    key = _key(path)
    if key in _FOLDERS:
        return
    try:
        fd = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise OutputError(f"cannot write {_shown(path)}: {err.strerror or err}") from None
    try:
        held = dup_high(fd)  # out of reach of user code that closes its descriptors
    except OSError:
        held = fd
    else:
        os.close(fd)
    _FOLDERS[key] = (held, real.name)


def _mode_in(folder: int, name: str, path: Path) -> int:
    """The read and write bits of the file `name` replaces, else those a new file gets (0666 less
    the umask): never its setuid, setgid, sticky or execute bits (a report is no program). What has
    taken its place since the check (a link, a FIFO) is refused."""
    try:
        info = _stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(
            f"cannot write {_shown(path)}: it is a symbolic link (name its target, or remove the link)"
        )
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise OutputError(f"cannot write {_shown(path)}: it is {kind}")
    return stat.S_IMODE(info.st_mode) & 0o666


def _exists_in(folder: int, name: str) -> bool:
    try:
        _stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _unlink_in(folder: int, name: str) -> None:
    with contextlib.suppress(OSError):
        _unlink(name, dir_fd=folder)


def _write_through(text: str | bytes, path: Path) -> None:
    """Into a terminal, pipe or device as it is: no temporary file, nothing replaced."""
    data = text if isinstance(text, bytes) else (text if text.endswith("\n") else text + "\n").encode("utf-8")
    try:
        with open(path, "wb", buffering=0) as stream:
            stream.write(data)
    except OSError as err:
        raise OutputError(f"cannot write {_shown(path)}: {err.strerror or err}") from None


@contextlib.contextmanager
def _removed_on_sigterm(folder: int, tmp: str) -> Iterator[None]:
    """SIGTERM (a CI runner cancelling the job) while the report is written: the temporary file is
    removed, then the process ends as SIGTERM ends it; no `.r.json.XXXX.tmp` left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        _unlink_in(folder, tmp)
        _setsignal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    previous = _setsignal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        _setsignal(signal.SIGTERM, previous)


def style(output: Path | None) -> tuple[bool, int]:
    """(colour, width) of a report: the terminal's on stdout (NO_COLOR, FORCE_COLOR and COLUMNS
    honoured, as rich reads them), plain 80 columns in a file."""
    from invcheck.render.rich import terminal

    return terminal(sys.stdout) if output is None or output == STDOUT else (False, 80)


def config_allows_import(paths: list[Path]) -> bool:
    """`allow-import = true` in the pyproject.toml of the project you work in (the working
    directory's), for specs that lie in that project: a downloaded folder's own pyproject.toml
    cannot grant itself permission."""
    from invcheck.project_config import allow_import_from_config, find_pyproject

    here = find_pyproject(Path.cwd())
    if here is None or not allow_import_from_config(Path.cwd()):
        return False
    return all(find_pyproject(p.resolve()) == here for p in paths)


def load_torch() -> None:
    """Import torch for a command that computes, with the garbage collector paused meanwhile and
    the objects it made exempted from later collections (`gc.freeze`).

    torch's import builds some 250,000 objects that live as long as the process, and every full
    collection walks them all: 40-80 ms each, about 0.18 s of `invcheck table`'s start-up in all.
    The import leaves next to no garbage (peak memory the same). The command line only: the library
    never touches the collector of the process it runs in."""
    import gc

    if "torch" in sys.modules:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
