"""Reference claims (DESIGN.md §5): data to compare computed verdicts against, never a source of them.

Every claim is about a setting. The papers' tables are about a fully connected layer with
BatchNorm in training mode and no eps; the survey's claims are about convolutional networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from invcheck.names import TRANSFORMS


@dataclass(frozen=True)
class Claim:
    source: str  # short citation
    layer: str  # the setting the claim is about
    norm: str
    transform: str
    verdict: str  # "invariant" | "not_invariant"


def _row(source: str, layer: str, norm: str, marks: str, transforms: tuple[str, ...] = TRANSFORMS) -> list[Claim]:
    """One table row: 'I' invariant, 'N' not invariant, '.' no claim, in the order of `transforms`."""
    verdicts = {"I": "invariant", "N": "not_invariant"}
    return [Claim(source, layer, norm, t, verdicts[m]) for t, m in zip(transforms, marks) if m != "."]


LAYER_NORM_PAPER = "Ba, Kiros & Hinton 2016, Table 1"
RMS_NORM_PAPER = "Zhang & Sennrich 2019, Table 1"
SURVEY = "survey of BN/LN/IN/GN (conv networks)"
SURVEY_TRANSFORMS = ("weight_matrix_rescale", "weight_vector_rescale", "dataset_rescale")

# Column order: weight_matrix_rescale, weight_matrix_recenter, weight_vector_rescale,
# dataset_rescale, dataset_recenter, case_rescale.
CLAIMS: tuple[Claim, ...] = (
    *_row(LAYER_NORM_PAPER, "dense", "batch_norm", "INIIIN"),
    *_row(LAYER_NORM_PAPER, "dense", "weight_norm", "ININNN"),
    *_row(LAYER_NORM_PAPER, "dense", "layer_norm", "IININI"),
    *_row(RMS_NORM_PAPER, "dense", "rms_norm", "INNINI"),
    *_row(SURVEY, "conv", "batch_norm", "III", SURVEY_TRANSFORMS),
    *_row(SURVEY, "conv", "layer_norm", "INI", SURVEY_TRANSFORMS),
    *_row(SURVEY, "conv", "instance_norm", "III", SURVEY_TRANSFORMS),
    *_row(SURVEY, "conv", "group_norm", "INI", SURVEY_TRANSFORMS),
)

# The claims `invcheck table --check` asserts: the two papers, in their own (dense) setting.
PAPER_SOURCES = (LAYER_NORM_PAPER, RMS_NORM_PAPER)


def claims_for(norm: str, transform: str) -> list[Claim]:
    """Every claim about a (norm, transform) pair, in any setting."""
    return [c for c in CLAIMS if c.norm == norm and c.transform == transform]


def claim(layer: str, norm: str, transform: str) -> Claim | None:
    """The claim made in this exact setting, if any."""
    return next((c for c in claims_for(norm, transform) if c.layer == layer), None)


def paper_claim(norm: str, transform: str) -> Claim | None:
    """The papers' claim for the pair (made for a dense layer), whatever layer is being checked."""
    return next((c for c in claims_for(norm, transform) if c.source in PAPER_SOURCES), None)
