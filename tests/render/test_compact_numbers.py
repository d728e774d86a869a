"""A compact table never crops a number: 5.2e-16 cut to 5.2e-1 reads as a 52% deviation."""

import pytest

from invcheck import table
from invcheck.render import rich
from invcheck.render.symbols import number

# The module's tests read one table (a module fixture is built again on each pytest-xdist worker
# that runs one of them): one worker runs them all, so it is built once.
pytestmark = pytest.mark.xdist_group("compact_numbers:report")


@pytest.fixture(scope="module")
def report() -> table.TableReport:
    return table.build(["dense", "conv"], trials=4)


@pytest.mark.fast_set(width=(60, 80))  # the other widths: slow
@pytest.mark.parametrize("width", [60, 72, 80, 90, 103])
def test_every_number_is_shown_whole(report: table.TableReport, width: int) -> None:
    text = rich.table(report, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    words = set(text.split())
    for c in report.cells:
        if c.result.deviation is not None:
            assert number(c.result.deviation) in words, (width, c.layer, c.norm, c.transform)
