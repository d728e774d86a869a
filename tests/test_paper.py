"""The reference claims are data, transcribed once from DESIGN.md §5."""

from __future__ import annotations

from invcheck import paper
from invcheck.names import NORMS, TRANSFORMS


def test_claims_use_design_names_only() -> None:
    for c in paper.CLAIMS:
        assert c.norm in NORMS and c.transform in TRANSFORMS and c.layer in ("dense", "conv")
        assert c.verdict in ("invariant", "not_invariant")


def test_layer_norm_paper_table_1_transcription() -> None:
    rows = {n: "".join("I" if paper.claim("dense", n, t).verdict == "invariant" else "N" for t in TRANSFORMS)
            for n in ("batch_norm", "weight_norm", "layer_norm", "rms_norm")}
    assert rows == {"batch_norm": "INIIIN", "weight_norm": "ININNN", "layer_norm": "IININI", "rms_norm": "INNINI"}


def test_survey_claims_are_about_conv_and_three_columns() -> None:
    survey = [c for c in paper.CLAIMS if c.source == paper.SURVEY]
    assert len(survey) == 4 * 3 and {c.layer for c in survey} == {"conv"}
    assert {c.transform for c in survey} == set(paper.SURVEY_TRANSFORMS)


def test_paper_claim_ignores_the_layer() -> None:
    assert paper.paper_claim("layer_norm", "weight_matrix_recenter").layer == "dense"
    assert paper.paper_claim("instance_norm", "dataset_rescale") is None
