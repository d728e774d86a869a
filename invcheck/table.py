"""The regenerated Table 1: every norm x transform, computed per layer, beside the reference claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from invcheck import __version__, paper
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.names import NORMS, TRANSFORMS
from invcheck.transforms import get_transform
from invcheck.paper import Claim
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig

# Why a computed cell can differ from the papers' claim, which is about a dense layer.
SETTING_NOTES: dict[tuple[str, str], str] = {
    ("conv", "weight_matrix_recenter"): (
        "in a conv layer the added kernel shifts each position by its own amount (gamma * x_n)(p), "
        "not every unit of a case by one constant as in the paper's dense layer"),
    ("conv", "dataset_recenter"): (
        "in a conv layer the shift reaches each output channel as one constant only without zero "
        "padding; with padding the border positions get less of it"),
}


@dataclass
class Cell:
    layer: str
    norm: str
    transform: str
    result: Any  # verdict.Result
    paper: Claim | None  # the papers' claim for the pair (their setting: a dense layer)
    survey: Claim | None  # a claim made for this layer's setting by the survey, if any
    reference: Any = None  # with --impl torch: the reference implementation's Result
    proof: Any = None  # with --prove: why.prove.Proof (exact, small symbolic shapes)

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def disagrees(self) -> bool:
        """A computed verdict that contradicts a claim made for this very setting."""
        claims = [c for c in (self.paper, self.survey) if c is not None and c.layer == self.layer]
        return any(c.verdict != self.verdict for c in claims)

    @property
    def differs_from_paper(self) -> bool:
        return self.paper is not None and self.paper.verdict != self.verdict

    @property
    def note(self) -> str | None:
        """Why the cell differs from a claim, when it does."""
        if not (self.differs_from_paper or self.disagrees):
            return None
        if self.layer != "dense" and self.differs_from_paper:
            reason = SETTING_NOTES.get((self.layer, self.transform), "the claim is about a dense layer")
            return f"differs from {self.paper.source} (a dense-layer claim): {reason}"
        claim = self.paper if self.paper is not None and self.paper.layer == self.layer else self.survey
        return f"disagrees with {claim.source}: computed {self.verdict}, claimed {claim.verdict}"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        d = {"layer": self.layer, "norm": self.norm, "transform": self.transform, "verdict": r.verdict,
             "deviation": r.deviation, "tolerance": r.tolerance, "bound": r.bound,
             "paper": self.paper.verdict if self.paper else None,
             "paper_source": self.paper.source if self.paper else None,
             "survey": self.survey.verdict if self.survey else None,
             "agrees": None if self.paper is None else not self.differs_from_paper, "note": self.note}
        if self.reference is not None:
            d["reference"] = self.reference.verdict
        if self.proof is not None:
            d["proof"], d["proof_detail"] = self.proof.status, self.proof.detail
        return d


@dataclass
class TableReport:
    cells: list[Cell]
    meta: dict[str, Any] = field(default_factory=dict)

    def layers(self) -> list[str]:
        return list(dict.fromkeys(c.layer for c in self.cells))

    def norms(self, layer: str) -> list[str]:
        return list(dict.fromkeys(c.norm for c in self.cells if c.layer == layer))

    def transforms(self, layer: str) -> list[str]:
        return list(dict.fromkeys(c.transform for c in self.cells if c.layer == layer))

    def cell(self, layer: str, norm: str, transform: str) -> Cell:
        return next(c for c in self.cells if (c.layer, c.norm, c.transform) == (layer, norm, transform))

    def failures(self) -> list[Cell]:
        """Cells that `--check` fails on: in the papers' setting, against the papers' claims."""
        return [c for c in self.cells if any(
            claim.source in paper.PAPER_SOURCES and claim.layer == c.layer and claim.verdict != c.verdict
            for claim in paper.claims_for(c.norm, c.transform))]


def build(layers: list[str], *, trials: int = 8, seed: int = 0, dtype: str = "float64",
          device: str = "cpu", impl: str = "reference", eps: float = 0.0, tf32: bool = False,
          prove: bool = False, prove_seconds: float = 60.0) -> TableReport:
    """Compute every cell. Nothing here reads a claim before the verdict is computed."""
    cells = []
    for layer in layers:
        kind = LAYER_KINDS[layer]
        for norm in NORMS:
            for transform in [t for t in TRANSFORMS if get_transform(t).undefined_reason(kind) is None]:
                # PyTorch's weight_norm has no eps: its cells run at 0 under --impl torch, both sides.
                cell_eps = 0.0 if impl == "torch" and norm == "weight_norm" else eps
                check = CheckConfig(norm=NormConfig(id=norm, eps=cell_eps, impl=impl),
                                    transform=TransformConfig(id=transform), layer=LayerConfig(kind=layer),
                                    trials=trials, seed=seed, dtype=dtype, device=device, tf32=tf32)
                result = run_check(check)
                ref = run_check(check.with_(norm=NormConfig(id=norm, eps=cell_eps))) if impl != "reference" else None
                survey = paper.claim(layer, norm, transform)
                cells.append(Cell(layer, norm, transform, result, paper.paper_claim(norm, transform),
                                  survey if survey and survey.source not in paper.TABLE_SOURCES else None, ref))
    if prove:  # exact verdicts on request only: the default table stays as fast as it was
        from invcheck.why.prove import attach

        attach(cells, prove_seconds)
    meta = {"invcheck_version": __version__, "torch_version": _torch_version(),
            "device": cells[0].result.device if cells else device, "dtype": dtype, "seed": seed,
            "trials": trials, "impl": impl, "eps": eps, "tf32": tf32,
            # impl torch with eps 0: each PyTorch layer's own default eps (1e-5; RMSNorm: eps=None)
            "torch_default_eps": impl == "torch" and eps == 0.0, **({"prove": True} if prove else {})}
    return TableReport(cells, meta)


def _torch_version() -> str:
    import torch

    return torch.__version__
