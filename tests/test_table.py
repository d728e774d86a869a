"""The regenerated table: computed cells, claims only beside them, differences explained."""

from __future__ import annotations

import pytest

from invcheck import paper, table
from tests.derived_rows import shown_norms

# The module's tests read one table (a module fixture is built again on each pytest-xdist worker
# that runs one of them): one worker runs them all, so it is built once.
pytestmark = pytest.mark.xdist_group("table:report")


@pytest.fixture(scope="module")
def report() -> table.TableReport:
    return table.build(["dense", "conv"], trials=4, seed=3)


def test_every_cell_is_computed_with_numbers(report: table.TableReport) -> None:
    # dense shows the 2d norms once, as layer_norm / rms_norm
    assert len(report.cells) == len(shown_norms("dense")) * 6 + len(shown_norms("conv")) * 6
    for cell in report.cells:
        if cell.verdict == "undefined":
            assert cell.layer == "dense" and cell.norm == "instance_norm"
            continue
        assert cell.result.deviation is not None and cell.result.tolerance > 0


def test_dense_table_agrees_with_the_papers(report: table.TableReport) -> None:
    assert report.failures() == []
    for c in paper.CLAIMS:
        if c.source in paper.PAPER_SOURCES:
            assert report.cell("dense", c.norm, c.transform).verdict == c.verdict


def test_conv_difference_from_the_dense_claim_is_marked_and_explained(report: table.TableReport) -> None:
    cell = report.cell("conv", "layer_norm", "weight_matrix_recenter")
    assert cell.verdict == "not_invariant" and cell.paper.verdict == "invariant"
    assert cell.differs_from_paper and "position" in cell.note
    assert not cell.disagrees  # a finding about another setting, not a contradiction
    assert report.failures() == []  # --check asserts the papers' own setting only


def test_claims_never_feed_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    flipped = tuple(
        paper.Claim(
            c.source,
            c.layer,
            c.norm,
            c.transform,
            "invariant" if c.verdict == "not_invariant" else "not_invariant",
        )
        for c in paper.CLAIMS
    )
    monkeypatch.setattr(paper, "CLAIMS", flipped)
    report = table.build(["dense"], trials=2)
    assert report.cell("dense", "layer_norm", "weight_vector_rescale").verdict == "not_invariant"
    assert len(report.failures()) == len(
        [c for c in flipped if c.source in paper.PAPER_SOURCES and c.layer == "dense"]
    )


def test_survey_claims_sit_beside_conv_cells(report: table.TableReport) -> None:
    cell = report.cell("conv", "instance_norm", "weight_vector_rescale")
    assert cell.survey is not None and cell.survey.verdict == cell.verdict == "invariant"
    assert cell.paper is None


def test_cell_dict_uses_design_names(report: table.TableReport) -> None:
    d = report.cell("dense", "rms_norm", "case_rescale").to_dict()
    assert d["paper"] == "invariant" and d["paper_source"] == paper.RMS_NORM_PAPER
    assert d["agrees"] is True and d["note"] is None
    assert report.cell("dense", "group_norm", "case_rescale").to_dict()["paper"] is None


def test_planned_counts_the_cells_build_computes() -> None:
    from invcheck import table as tables

    steps: list[int] = []
    report = tables.build(["dense"], trials=2, placements=("summed", "input"), advance=steps.append)
    assert sum(steps) == len(report.cells) == tables.planned(["dense"], ("summed", "input"))
