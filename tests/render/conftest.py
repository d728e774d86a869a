"""The renderers' shared input: one default-sized table of dense and conv, built once in a session.

test_renderers.py, test_rich.py and test_latex.py each built the same table (264 checks) in a
module fixture, again on each pytest-xdist worker that ran one of their tests; they read it and
never change it. Their `xdist_group("render:report")` puts them on one worker: built once.
"""

from __future__ import annotations

import pytest

from invcheck import table


@pytest.fixture(scope="session")
def report() -> table.TableReport:
    return table.build(["dense", "conv"], trials=2)
