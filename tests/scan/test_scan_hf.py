"""examples/scan_hf.py: tiny transformers models built offline, scanned; the HF rule on real models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from invcheck.scan import heuristics as hz  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scan_hf.py"


def _example():
    spec = importlib.util.spec_from_file_location("invcheck_example_scan_hf", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "convnext", "vit"])
def test_our_hf_rule_is_transformers_own_on_its_models(name: str) -> None:
    from torch import nn
    from transformers.trainer_pt_utils import get_parameter_names

    model, inputs = _example().MODELS[name]()
    assert hz.hf_decay_names(model) == get_parameter_names(
        model, [nn.LayerNorm], list(hz.HF_FORBIDDEN_NAME_PATTERNS)
    )
    assert model(**inputs) is not None  # built offline, runs on its own inputs


def test_bert_key_bias_is_invariant_and_adamp_never_sees_it() -> None:
    pytest.importorskip("invcheck.scan.engine")
    from invcheck.scan import scan

    model, inputs = _example().bert()
    report = scan(model, inputs, mode="eval")
    calls = hz.compare(model, report, inputs, batches=3)
    key_bias = calls.calls_of("encoder.layer.0.attention.self.key.bias")
    assert key_bias.exact is True  # softmax over keys: a shift shared by all keys cancels
    assert key_bias.calls["adamp"] is False and key_bias.disagrees("adamp")
    assert key_bias.calls["timm"] is True and not key_bias.disagrees("timm")
    # an independent count of nanoGPT's agreement: no decay iff dim < 2, against the exact answer
    answered = [t for t in calls.tensors if t.exact is not None]
    agree = sum((len(t.shape) < 2) == t.exact for t in answered)
    assert calls.agreement("nanogpt") == hz.Agreement(
        "nanogpt",
        "all",
        agree,
        len(answered),
        sum(len(t.shape) < 2 and not t.exact for t in answered),
        sum(len(t.shape) >= 2 and t.exact for t in answered),
    )


def test_the_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("invcheck.scan.engine")
    assert _example().main(["vit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("vit: 38 tensors; invariant under weight_matrix_rescale")
    assert "AdamP/SGDP projection: agrees on" in out
    assert _example().main(["resnet"]) == 2
