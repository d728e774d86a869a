"""One exception base. Only the CLI turns these into exit codes; only the pytest plugin formats them."""

from __future__ import annotations


def one_line(text: str) -> str:
    """`text` on one line: control characters (a newline or an escape in a file name) written as
    escapes, so that an error is one line and a terminal runs nothing it was handed."""
    return "".join(
        c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text
    )


# The most characters of a message told (a result's `why`, its notes, an error): user code's own text
# in it is unbounded (`raise ValueError("x" * 10_000_000)` became a 10 MB "one-line" why, 10 MB on
# stderr and a 30 MB JUnit file).
MAX_CHARS = 2000


def capped(text: str, limit: int = MAX_CHARS) -> str:
    """`text`, or its first `limit` characters and how many more there were (a text capped once,
    its count included, is kept whole: a result's why made of a capped error's message)."""
    if len(text) <= limit + 40:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


class InvcheckError(Exception):
    """Bad input or an environment problem: the CLI prints one line and exits 2."""

    exit_code = 2


class SpecError(InvcheckError, ValueError):  # a bad value: `except ValueError` catches it too
    """A spec that cannot be run, located at file:line, with the bad value and a hint."""

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.value, self.hint = file, line, value, hint
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.detail}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class DeviceError(InvcheckError):
    """The requested device (say `cuda`) is not available here."""


class ImportRefused(InvcheckError):
    """A spec names user code but importing was not allowed (`--allow-import`)."""


class UserCodeError(InvcheckError):
    """User code (a `module:` norm or layer) failed to import, build or run as a norm must;
    `reason` is the message without the spec's location and the module's name."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(capped(message))
        self.reason = capped(reason if reason is not None else message)


class InvarianceError(AssertionError):
    """Raised by `assert_invariant` / `assert_not_invariant`; carries the result as evidence."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
