"""The regenerated Table 1: every norm x transform, computed per layer and placement, beside the claims.

The papers' claims are about a norm on the summed inputs; a table of another placement (the norm
after the activation, or on the layer's input) stands alone, without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from invcheck import own_row, paper
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.names import NORMS, TRANSFORMS
from invcheck.norms import get_norm
from invcheck.paper import Claim
from invcheck.placements import get_placement
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, check_config
from invcheck.transforms import get_transform
from invcheck.version import __version__


@dataclass
class Cell:
    layer: str
    norm: str
    transform: str
    result: Any  # verdict.Result
    paper: Claim | None  # the papers' claim for the pair (their setting: a dense layer)
    survey: Claim | None  # a claim made for this layer's setting by the survey, if any
    reference: Any = None  # with --impl torch: the reference implementation's Result
    placement: str = "summed"  # where the norm sits (placements/)
    trials: int | None = None  # set where the cell needed more trials than the table's (degenerate ones)
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
        """Why the cell differs from a claim, when it does; or why it ran more trials than the table's."""
        if not (self.differs_from_paper or self.disagrees):
            return (
                None
                if self.trials is None
                else (
                    f"every trial was degenerate (a ReLU zeroed a whole statistic's set): decided on {self.trials} "
                    f"trials, {self.result.degenerate} of them degenerate"
                )
            )
        if self.paper is not None and self.layer != self.paper.layer and self.differs_from_paper:
            notes = LAYER_KINDS[self.layer].claim_notes
            reason = notes.get(self.transform, f"the claim is about a {self.paper.layer} layer")
            return f"differs from {self.paper.source} (a dense-layer claim): {reason}"
        claim = self.paper if self.paper is not None and self.paper.layer == self.layer else self.survey
        assert claim is not None  # it disagrees: a claim for this setting exists
        return f"disagrees with {claim.source}: computed {self.verdict}, claimed {claim.verdict}"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        d = {
            "layer": self.layer,
            "norm": self.norm,
            "transform": self.transform,
            "verdict": r.verdict,
            "deviation": r.deviation,
            "tolerance": r.tolerance,
            "bound": r.bound,
            "run": r.run,
            "why": r.why,
            "paper": self.paper.verdict if self.paper else None,
            "paper_source": self.paper.source if self.paper else None,
            "survey": self.survey.verdict if self.survey else None,
            "survey_source": self.survey.source if self.survey else None,
            "agrees": None if self.paper is None else not self.differs_from_paper,
            "note": self.note,
        }
        if self.reference is not None:
            d["reference"] = self.reference.verdict
        if self.trials is not None:
            d["trials"] = self.trials
        if self.proof is not None:
            d["proof"], d["proof_detail"] = self.proof.status, self.proof.detail
        return {"placement": self.placement, **d}


@dataclass
class TableReport:
    cells: list[Cell]
    meta: dict[str, Any] = field(default_factory=dict)

    def layers(self) -> list[str]:
        return list(dict.fromkeys(c.layer for c in self.cells))

    def sections(self) -> list[str]:
        """One table each: a layer ("dense"), or a layer and placement ("dense · norm after the
        activation") once the report holds a placement other than the paper's."""
        return list(dict.fromkeys(self.section(c) for c in self.cells))

    def section(self, cell: Cell) -> str:
        if all(c.placement == "summed" for c in self.cells):
            return cell.layer
        return f"{cell.layer} · {get_placement(cell.placement).title}"

    def in_section(self, section: str) -> list[Cell]:
        return [c for c in self.cells if self.section(c) == section]

    def norms(self, section: str) -> list[str]:
        return list(dict.fromkeys(c.norm for c in self.in_section(section)))

    def transforms(self, section: str) -> list[str]:
        return list(dict.fromkeys(c.transform for c in self.in_section(section)))

    def cell(self, section: str, norm: str, transform: str) -> Cell:
        """A cell of a section (a layer's name alone: its placement "summed", the paper's)."""
        return next(
            c
            for c in self.cells
            if (c.norm, c.transform) == (norm, transform)
            and section in (self.section(c), c.layer if c.placement == "summed" else None)
        )

    def failures(self) -> list[Cell]:
        """Cells that `--check` fails on: in the papers' setting, against the papers' claims."""
        return [
            c
            for c in self.cells
            if c.placement == "summed"
            and any(
                claim.source in paper.PAPER_SOURCES and claim.layer == c.layer and claim.verdict != c.verdict
                for claim in paper.claims_for(c.norm, c.transform)
            )
        ]


def build(
    layers: list[str],
    *,
    trials: int = 8,
    seed: int = 0,
    dtype: str = "float64",
    device: str = "cpu",
    impl: str = "reference",
    eps: float = 0.0,
    tf32: bool = False,
    placements: tuple[str, ...] = ("summed",),
    module: str | None = None,
    kwargs: dict[str, Any] | None = None,
    layout: str = "channels_first",
    prove: bool = False,
    obj: Any = None,
    prove_seconds: float = 60.0,
    advance: Callable[[int], None] = lambda n: None,
    beside_reference: bool = True,
) -> TableReport:
    """Compute every cell. Nothing here reads a claim before the verdict is computed.
    `advance(n)` after each n cells computed (a progress bar's; `planned` says how many there will be).

    module: a user layer (`pkg.mod:Name`, with kwargs; `layout` the conv layout it takes), whose row
    is computed beside the built-in rows of every layer kind it accepts, with the built-in row it matches.
    obj: the object the API holds for it (a module instance, a callable), `module` then its label.
    beside_reference: with impl torch, also each cell's reference verdict (off: half the work)."""
    cells = []
    for layer, placement in _sections(layers, placements):
        cells += _layer_cells(
            layer, placement, trials, seed, dtype, device, impl, eps, tf32, advance, beside_reference
        )
    extra: dict[str, Any] = {}
    if module is not None:
        base = check_config(  # own_row reads only its layout (and the options): its rows set the rest
            layout=layout,
            trials=trials,
            seed=seed,
            dtype=dtype,
            device=device,
            tf32=tf32,
        )
        failed_modes: dict[str, dict[str, str]] = {}
        mine, skipped = own_row.cells(
            module, kwargs or {}, layers, placements, base, _user_cell, failed_modes, obj
        )
        cells += mine
        advance(len(mine))
        extra = {
            "module": module,
            "behaves_like": _likeness(TableReport(cells), module),
            "not_accepted": skipped,
            "mode_fails": failed_modes,
        }
    if prove:  # exact verdicts on request only: the default table stays as fast as it was
        from invcheck.why.prove import attach

        attach(cells, prove_seconds)
    meta = {
        "invcheck_version": __version__,
        "torch_version": _torch_version(),
        "device": cells[0].result.device if cells else device,
        "dtype": dtype,
        "seed": seed,
        "trials": trials,
        "impl": impl,
        "eps": eps,
        "tf32": tf32,
        # impl torch with eps 0: each PyTorch layer's own default eps (1e-5; RMSNorm: eps=None)
        "torch_default_eps": impl == "torch" and eps == 0.0,
        **({"prove": True} if prove else {}),
    }
    if placements != ("summed",):
        meta["placements"] = list(placements)
    meta.update(extra)
    return TableReport(cells, meta)


def _user_cell(layer: str, label: str, transform: str, result: Any, placement: str = "summed") -> Cell:
    return Cell(layer, label, transform, result, None, None, placement=placement)


def _likeness(report: TableReport, module: str) -> dict[str, dict[str, str]]:
    """For each section (a layer, and where its norm sits) and each of the module's rows: the
    built-in row of the same section it matches."""
    out: dict[str, dict[str, str]] = {}
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for c in report.cells:
        rows.setdefault((report.section(c), c.norm), {})[c.transform] = c.verdict
    for (section, label), row in rows.items():
        if label.startswith(module):
            builtin = {n: r for (s2, n), r in rows.items() if s2 == section and not n.startswith(module)}
            out.setdefault(section, {})[label] = own_row.likeness(row, builtin)
    return out


def planned(layers: list[str], placements: tuple[str, ...], impl: str = "reference") -> int:
    """How many built-in cells `build` computes for these layers and placements."""
    return sum(len(_pairs(layer, placement, impl)) for layer, placement in _sections(layers, placements))


def _sections(layers: list[str], placements: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (layer, placement) sections of a table, placement by placement: those the layer has."""
    return [
        (layer, placement)
        for placement in placements
        for layer in layers
        if get_placement(placement).refusal(LAYER_KINDS[layer]) is None
    ]


def _pairs(layer: str, placement: str, impl: str = "reference") -> list[tuple[str, str]]:
    """A layer's table, as (norm, transform) pairs: no norm that coincides with another here, no
    transform the layer has no axis for; with impl torch, no norm that PyTorch has no version of."""
    kind = LAYER_KINDS[layer]
    return [
        (norm, transform)
        for norm in NORMS
        if get_norm(norm).same_as(kind, LayerConfig(layer, placement=placement)) is None
        and (impl != "torch" or get_norm(norm).has_torch)
        for transform in TRANSFORMS
        if get_transform(transform).undefined_reason(kind) is None
    ]


def _layer_cells(
    layer: str,
    placement: str,
    trials: int,
    seed: int,
    dtype: str,
    device: str,
    impl: str,
    eps: float,
    tf32: bool,
    advance: Callable[[int], None],
    beside_reference: bool = True,
) -> list[Cell]:
    cells = []
    for norm, transform in _pairs(layer, placement, impl):
        # A norm defined without an eps (weight_norm, dyt): its cells run at 0 whatever --eps says.
        cell_eps = eps if get_norm(norm).has_eps else 0.0
        check = check_config(
            NormConfig(id=norm, eps=cell_eps, impl=impl),
            transform,
            LayerConfig(layer, placement=placement),
            trials=trials,
            seed=seed,
            dtype=dtype,
            device=device,
            tf32=tf32,
        )
        result = decided(check)
        ref = (
            decided(result.check.with_(norm=NormConfig(id=norm, eps=cell_eps)))
            if impl != "reference" and beside_reference
            else None
        )
        summed = placement == "summed"  # the claims are about a norm on the summed inputs
        survey = paper.claim(layer, norm, transform) if summed else None
        cells.append(
            Cell(
                layer,
                norm,
                transform,
                result,
                paper.paper_claim(norm, transform) if summed else None,
                survey if survey and survey.source not in paper.TABLE_SOURCES else None,
                ref,
                placement,
                result.check.trials if result.check.trials != trials else None,
            )
        )
        advance(1)
    return cells


# A ReLU before the norm zeroes whole statistic sets often under a shift (a case's summed inputs all
# pushed below 0): a cell whose trials are all degenerate is run again with more trials, so that it
# is decided from trials that are not, as a check decides from its live trials.
MORE_TRIALS, MAX_TRIALS = 4, 512


def decided(check: CheckConfig) -> Any:
    """run_check, with more trials (same seed) while every trial is degenerate."""
    result = run_check(check)
    while result.degenerate == check.trials and check.trials * MORE_TRIALS <= MAX_TRIALS:
        check = check.with_(trials=check.trials * MORE_TRIALS)
        result = run_check(check)
    return result


def _torch_version() -> str:
    import torch

    return torch.__version__
