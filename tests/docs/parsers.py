"""sybil parsers for the docs' own kinds of example (the root conftest.py wires them up)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from sybil import Document, Example, Region
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from tests.docs.console import OUTPUT, ROOT, compare, compare_output, slow

_SESSION = re.compile(r"^\$ (invcheck|pytest)\b", re.MULTILINE)
_FILE = re.compile(
    r"^<!-- file: (?P<path>\S+) -->\n(?P<fence>```|~~~)[^\n]*\n(?P<body>.*?)^(?P=fence)$",
    re.DOTALL | re.MULTILINE,
)


class ConsoleParser(CodeBlockParser):
    """```console blocks: each `$ command` is run and its output compared with the one shown."""

    language = "console"

    def evaluate(self, example: Example) -> str | None:
        if slow(example.parsed) and os.environ.get("INVCHECK_DOCS_SLOW") != "1":
            import pytest

            pytest.skip("a benchmark's output: INVCHECK_DOCS_SLOW=1 runs it (minutes)")
        return compare(example.parsed)


class OutputParser:
    """Output shown as part of the page, between `<!-- $ invcheck ARGS -->` and `<!-- end -->`."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for match in OUTPUT.finditer(document.text):
            yield Region(match.start(), match.end(), (match["command"], match["body"]), self.evaluate)

    @staticmethod
    def evaluate(example: Example) -> str | None:
        return compare_output(*example.parsed)


class FileParser:
    """`<!-- file: PATH -->` before a fenced block: the block shows PATH (from the repository root) as it is."""

    def __call__(self, document: Document) -> Iterable[Region]:
        for match in _FILE.finditer(document.text):
            region = Region(match.start(), match.end(), (match["path"], match["body"]), self.evaluate)
            yield region

    @staticmethod
    def evaluate(example: Example) -> str | None:
        path, shown = example.parsed
        file = ROOT / path
        if not file.is_file():
            return f"{path}: no such file (the block above says it shows it)"
        if file.read_text(encoding="utf-8") != shown:
            return f"{path}: the block shows another text than the file holds"
        return None


class UncheckedSessionParser:
    """A shell session outside a ```console block would go unchecked: each such block fails."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(
            language=r"[^\n]*", mapping={"language": "language", "source": "source"}
        )

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.lexer(document):
            if region.lexemes["language"].strip() in ("console", "python"):
                continue
            if _SESSION.search(region.lexemes["source"]):
                region.parsed = region.lexemes["language"]
                region.evaluator = self.evaluate
                yield region

    @staticmethod
    def evaluate(example: Example) -> str | None:
        return f"a `$ invcheck`/`$ pytest` session in a ```{example.parsed} block is not checked: make it ```console"


class PythonParser(PythonCodeBlockParser):
    """```python blocks run (doctests compared), except a file's content shown under `<!-- file: -->`
    (checked as a file by FileParser; the example that uses it imports it)."""

    def __call__(self, document: Document) -> Iterable[Region]:
        files = {match.start("fence") for match in _FILE.finditer(document.text)}
        for region in super().__call__(document):
            if region.start not in files:
                yield region
