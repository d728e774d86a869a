"""The engine on tiny transformers models built from configs (no downloads; skipped without
transformers): the invariances their architectures imply, reasoned by hand."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from invcheck.scan import scan  # noqa: E402

M, V, C = "weight_matrix_rescale", "weight_vector_rescale", "weight_matrix_recenter"
INV, NOT = "invariant", "not_invariant"


def ids() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randint(0, 50, (2, 6))


def test_gpt2_residual_stream_constants_are_removed_by_every_layer_norm() -> None:
    """Pre-LN with a final LN: every reader of the residual stream is a LayerNorm, so a per-token
    constant added to it is invisible: recentering a Conv1D's output units (weight [in, out], dim 1)
    or the position embedding's hidden units. The token embedding is tied to the LM head: its
    recentering changes the logits by v_t * sum(h), zero only while ln_f has unit gains and zero
    bias: at these values only. Nothing is scale-invariant (no norm right after a matrix)."""
    config = transformers.GPT2Config(vocab_size=50, n_embd=16, n_layer=2, n_head=2, n_positions=8)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    for mode in ("eval", "train"):
        r = scan(model, {"input_ids": ids()}, mode=mode)
        assert r.verdict_of("transformer.h.0.attn.c_proj.weight", C).verdict == INV
        assert r.verdict_of("transformer.h.1.mlp.c_proj.bias", C).verdict == INV
        assert r.verdict_of("transformer.wpe.weight", C).verdict == INV
        wte = r.verdict_of("transformer.wte.weight", C)
        assert wte.verdict == INV and wte.at_these_values_only
        assert r.verdict_of("transformer.h.0.attn.c_attn.weight", C).verdict == NOT  # q, k, v mixed
        assert r.verdict_of("transformer.h.0.mlp.c_fc.weight", C).verdict == NOT  # GELU after it
        for p in r.parameters:
            if p.transform in (M, V) and not p.name.endswith("bias"):
                assert p.verdict == NOT, p


def test_bert_key_bias_and_post_ln_recentering() -> None:
    """Post-LN: dense -> LN(x + dense(h)): recentering the dense layer (or its bias) is removed by
    that LN; the key bias by the softmax, for all three transforms; the pooler is not part of
    last_hidden_state: it does not reach the output."""
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=8,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config)
    r = scan(model, {"input_ids": ids()}, mode="train")
    for t in (M, V, C):
        key = r.verdict_of("encoder.layer.0.attention.self.key.bias", t)
        assert key.verdict == INV and not key.at_these_values_only
    # the query bias is 0 at init: rescaling it changes nothing, here only; a shift adds c sum(k_j)
    query = r.verdict_of("encoder.layer.0.attention.self.query.bias", M)
    assert query.verdict == INV and query.at_these_values_only
    assert r.verdict_of("encoder.layer.0.attention.self.query.bias", C).verdict == NOT
    assert r.verdict_of("encoder.layer.0.output.dense.weight", C).verdict == INV
    assert r.verdict_of("encoder.layer.0.output.dense.weight", C).via == (
        "encoder.layer.0.output.LayerNorm (LayerNorm, per-token statistics)"
    )
    pooler = r.verdict_of("pooler.dense.weight", M)
    assert pooler.verdict == INV and "does not reach the output" in pooler.why


def test_llama_has_no_single_tensor_invariance() -> None:
    """RMSNorm divides by the rms without removing a mean, and every block writes into the
    residual stream after its norm: no scale or shift of a single tensor cancels (no biases)."""
    config = transformers.LlamaConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        max_position_embeddings=8,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    r = scan(model, {"input_ids": ids()})
    assert all(p.verdict == NOT for p in r.parameters), [p for p in r.parameters if p.verdict != NOT]
    assert not r.groups
