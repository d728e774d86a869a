"""The docs' console blocks: parsed, run and compared so that a changed number fails."""

from __future__ import annotations

from tests.docs.console import compare, normalise, parse, run_block, slow
from tests.docs.regen import regenerate

BLOCK = """$ invcheck validate docs/examples/broken.yaml
error: docs/examples/broken.yaml:2: unknown norm 'layer_nrom' (did you mean 'layer_norm'?)
error: docs/examples/broken.yaml:3: groups 3 does not divide the layer's 16 channels (units) (use one of 1, 2, 4, 8, 16)"""


def test_parse_commands_outputs_and_continuations() -> None:
    commands = parse("$ cd docs\n$ invcheck sweep --eps 1e-5 \\\n    --per-decade 1\nline 1\n\nline 3")
    assert [c.line for c in commands] == ["cd docs", "invcheck sweep --eps 1e-5 --per-decade 1"]
    assert commands[1].expected == "line 1\n\nline 3" and commands[1].raw.endswith("--per-decade 1")
    assert commands[0].expected == ""


def test_output_before_a_command_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="output before any command"):
        parse("stray\n$ invcheck table")


def test_only_durations_and_line_ends_are_normalised() -> None:
    assert normalise("proved (1.96 s)  \n1 failed in 4.18s\n\n") == "proved (… s)\n1 failed in …s"
    assert normalise("dev 0.0001507 tol 2e-15 (rounding)") == "dev 0.0001507 tol 2e-15 (rounding)"


def test_the_tools_output_matches_and_one_changed_digit_fails() -> None:
    assert compare(BLOCK) is None
    failure = compare(BLOCK.replace("16 channels", "17 channels"))
    assert (
        failure is not None
        and "-error: docs/examples/broken.yaml:3: groups 3 does not divide the layer's 17" in failure
    )


def test_in_process_output_is_100_columns_wide_and_includes_stderr() -> None:
    ((_, table),) = run_block("$ invcheck table --layer dense --trials 2")
    assert "layer: dense" in table and max(len(line) for line in table.splitlines()) <= 100
    ((_, error),) = run_block("$ invcheck table --trials 0")
    assert error.startswith("error: ") and "--trials" in error


def test_regenerate_rewrites_outputs_and_keeps_commands() -> None:
    page = "text\n\n```console\n$ invcheck validate \\\n  docs/examples/broken.yaml\nstale\n```\n"
    new = regenerate(page)
    assert "stale" not in new and "$ invcheck validate \\\n  docs/examples/broken.yaml\nerror:" in new
    assert regenerate(new) == new


def test_benchmarks_are_slow_blocks_regenerated_only_when_asked() -> None:
    assert slow("$ python benchmarks/power.py\nout") and not slow(BLOCK)
    page = "```console\n$ python benchmarks/power.py\nold\n```\n"
    assert regenerate(page) == page


def test_regenerate_makes_a_pasted_session_a_console_block() -> None:
    new = regenerate("```text\n$ invcheck validate docs/examples/broken.yaml\nold\n```\n")
    assert new.startswith("```console\n$ invcheck validate") and "old" not in new


def test_regenerate_leaves_a_block_it_cannot_run() -> None:
    page = "```console\n$ cat spec.yaml | invcheck run -\nout\n```\n"
    assert regenerate(page) == page
