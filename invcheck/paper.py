"""Reference claims: data to compare computed verdicts against, never a source of them.

Every claim is about a setting. The papers' tables are about a fully connected layer with
BatchNorm in training mode and no eps; the survey's claims are about convolutional networks; the
Layer Normalization paper's one sentence on its recurrent network is about that network.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    source: str  # short citation
    layer: str  # the setting the claim is about
    norm: str
    transform: str
    verdict: str  # "invariant" | "not_invariant"


LAYER_NORM_PAPER = "Ba, Kiros & Hinton 2016, Table 1"
LAYER_NORM_RNN = "Ba, Kiros & Hinton 2016, section 3.1"
RMS_NORM_PAPER = "Zhang & Sennrich 2019, Table 1"
SURVEY = "survey of BN/LN/IN/GN (conv networks)"

I, N = "invariant", "not_invariant"

# source -> layer -> norm -> {transform: verdict}
_CLAIMS: dict[str, dict[str, dict[str, dict[str, str]]]] = {
    LAYER_NORM_PAPER: {
        "dense": {
            "batch_norm": {
                "weight_matrix_rescale": I,
                "weight_matrix_recenter": N,
                "weight_vector_rescale": I,
                "dataset_rescale": I,
                "dataset_recenter": I,
                "case_rescale": N,
            },
            "weight_norm": {
                "weight_matrix_rescale": I,
                "weight_matrix_recenter": N,
                "weight_vector_rescale": I,
                "dataset_rescale": N,
                "dataset_recenter": N,
                "case_rescale": N,
            },
            "layer_norm": {
                "weight_matrix_rescale": I,
                "weight_matrix_recenter": I,
                "weight_vector_rescale": N,
                "dataset_rescale": I,
                "dataset_recenter": N,
                "case_rescale": I,
            },
        }
    },
    RMS_NORM_PAPER: {
        "dense": {
            "rms_norm": {
                "weight_matrix_rescale": I,
                "weight_matrix_recenter": N,
                "weight_vector_rescale": N,
                "dataset_rescale": I,
                "dataset_recenter": N,
                "case_rescale": I,
            },
        }
    },
    # "invariant to re-scaling all of the summed inputs to a layer": W scaled as a whole.
    LAYER_NORM_RNN: {"recurrent": {"layer_norm": {"weight_matrix_rescale": I}}},
    SURVEY: {
        "conv": {
            norm: {"weight_matrix_rescale": I, "weight_vector_rescale": per_neuron, "dataset_rescale": I}
            for norm, per_neuron in (
                ("batch_norm", I),
                ("layer_norm", N),
                ("instance_norm", I),
                ("group_norm", N),
            )
        }
    },
}

CLAIMS: tuple[Claim, ...] = tuple(
    Claim(source, layer, norm, transform, verdict)
    for source, layers in _CLAIMS.items()
    for layer, norms in layers.items()
    for norm, row in norms.items()
    for transform, verdict in row.items()
)

# The claims `invcheck table --check` asserts: the papers, in their own settings.
PAPER_SOURCES = (LAYER_NORM_PAPER, RMS_NORM_PAPER, LAYER_NORM_RNN)
# The papers' tables, about a dense layer: shown beside other layers' cells as "the paper's claim".
TABLE_SOURCES = (LAYER_NORM_PAPER, RMS_NORM_PAPER)
# The layers the papers' own claims (PAPER_SOURCES) were made for: what `table --check` needs.
CLAIM_LAYERS: tuple[str, ...] = tuple(dict.fromkeys(c.layer for c in CLAIMS if c.source in PAPER_SOURCES))


# How a claim made for one setting is labelled beside a computed cell.
LABELS = {SURVEY: "survey", LAYER_NORM_RNN: "RNN claim", LAYER_NORM_PAPER: "paper", RMS_NORM_PAPER: "paper"}


def claims_for(norm: str, transform: str) -> list[Claim]:
    """Every claim about a (norm, transform) pair, in any setting."""
    return [c for c in CLAIMS if c.norm == norm and c.transform == transform]


def claim(layer: str, norm: str, transform: str) -> Claim | None:
    """The claim made in this exact setting, if any."""
    return next((c for c in claims_for(norm, transform) if c.layer == layer), None)


def paper_claim(norm: str, transform: str) -> Claim | None:
    """The papers' table claim for the pair (made for a dense layer), whatever layer is checked."""
    return next((c for c in claims_for(norm, transform) if c.source in TABLE_SOURCES), None)
