"""The reference claims are data, transcribed once from the papers (kept apart from any verdict)."""

from __future__ import annotations

from invcheck import paper
from invcheck.names import LAYERS, NORMS, PAPER_TRANSFORMS, TRANSFORMS


def test_claims_use_the_vocabulary_only() -> None:
    for c in paper.CLAIMS:
        assert c.norm in NORMS and c.transform in TRANSFORMS and c.layer in LAYERS
        assert c.verdict in ("invariant", "not_invariant")


def test_layer_norm_paper_table_1_transcription() -> None:
    rows = {
        n: "".join(
            "I" if paper.claim("dense", n, t).verdict == "invariant" else "N" for t in PAPER_TRANSFORMS
        )
        for n in ("batch_norm", "weight_norm", "layer_norm", "rms_norm")
    }
    assert rows == {
        "batch_norm": "INIIIN",
        "weight_norm": "ININNN",
        "layer_norm": "IININI",
        "rms_norm": "INNINI",
    }


def test_survey_claims_are_about_conv_and_three_columns() -> None:
    survey = [c for c in paper.CLAIMS if c.source == paper.SURVEY]
    assert len(survey) == 4 * 3 and {c.layer for c in survey} == {"conv"}
    assert {c.transform for c in survey} == {
        "weight_matrix_rescale",
        "weight_vector_rescale",
        "dataset_rescale",
    }


def test_the_rnn_claim_is_about_the_recurrent_layer() -> None:
    (rnn,) = [c for c in paper.CLAIMS if c.source == paper.LAYER_NORM_RNN]
    assert (rnn.layer, rnn.norm, rnn.transform, rnn.verdict) == (
        "recurrent",
        "layer_norm",
        "weight_matrix_rescale",
        "invariant",
    )


def test_paper_claim_ignores_the_layer() -> None:
    assert paper.paper_claim("layer_norm", "weight_matrix_recenter").layer == "dense"
    assert paper.paper_claim("instance_norm", "dataset_rescale") is None
