"""Tiny Hugging Face models built from config (no download, random weights), scanned whole.

Needs transformers: `pip install "invcheck[models]"`. Each factory returns (model, inputs), so
`invcheck scan examples/scan_hf.py:gpt2 --allow-import` and a spec's `scan:` entry can use it too.

    python examples/scan_hf.py              # all five: invariant tensors, the rules of thumb beside
    python examples/scan_hf.py llama vit    # some of them
    python examples/scan_hf.py --markdown   # the full Markdown tables

Sizes are tiny (hidden size 16, two layers) so that a scan takes seconds on a CPU; the invariances
are structural, so they are those of the full-size models with the same architecture.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

# At the top, not in each factory: importing transformers takes seconds, and a factory's call runs
# under invcheck's deadline for user code (15 s by default).
from transformers import (
    BertConfig,
    BertModel,
    ConvNextConfig,
    ConvNextForImageClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    ViTConfig,
    ViTModel,
)

VOCAB, TOKENS, BATCH = 64, 8, 2


def _tokens(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (BATCH, TOKENS), generator=gen)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _pixels(size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"pixel_values": torch.randn(BATCH, 3, size, size, generator=gen)}


def bert() -> tuple[Any, dict[str, torch.Tensor]]:
    """BERT encoder (post-LN: LayerNorm after each residual sum); output: last_hidden_state."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=TOKENS,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertModel(config, add_pooling_layer=False), _tokens()


def gpt2() -> tuple[Any, dict[str, torch.Tensor]]:
    """GPT-2 (pre-LN, transformers' Conv1D layers stored [in, out], tied head); output: logits."""
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=TOKENS,
        n_embd=16,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config), _tokens()


def llama() -> tuple[Any, dict[str, torch.Tensor]]:
    """Llama (pre-RMSNorm, rotary positions, grouped-query attention, no biases); output: logits."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=TOKENS,
    )
    return LlamaForCausalLM(config), _tokens()


def convnext() -> tuple[Any, dict[str, torch.Tensor]]:
    """ConvNeXt (depthwise convs, channels-last LayerNorm, layer scale); output: logits."""
    torch.manual_seed(0)
    config = ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], num_labels=3, image_size=32)
    return ConvNextForImageClassification(config), _pixels(32)


def vit() -> tuple[Any, dict[str, torch.Tensor]]:
    """ViT (patch embedding, cls token, position embeddings, pre-LN blocks); output: last_hidden_state."""
    torch.manual_seed(0)
    config = ViTConfig(
        image_size=16,
        patch_size=4,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return ViTModel(config, add_pooling_layer=False), _pixels(16)


MODELS = {"bert": bert, "gpt2": gpt2, "llama": llama, "convnext": convnext, "vit": vit}


def main(argv: list[str]) -> int:
    from invcheck.scan import heuristics as hz
    from invcheck.scan import scan
    from invcheck.scan.markdown import table

    markdown = "--markdown" in argv
    chosen = [a for a in argv if not a.startswith("-")] or list(MODELS)
    unknown = [a for a in chosen if a not in MODELS]
    if unknown:
        print(f"unknown model {unknown[0]!r}: choose from {', '.join(MODELS)}", file=sys.stderr)
        return 2
    for name in chosen:
        model, inputs = MODELS[name]()
        report = scan(model, inputs, mode="eval")
        calls = hz.compare(model, report, inputs)
        if markdown:
            print(table(report, calls))
            continue
        tensors = len({p.name for p in report.parameters})
        counts = {  # structural invariances only: not those of a zero bias or unit gains at init
            t: sum(
                p.verdict == "invariant" and not p.at_these_values_only and p.transform == t
                for p in report.parameters
            )
            for t in ("weight_matrix_rescale", "weight_vector_rescale", "weight_matrix_recenter")
        }
        print(
            f"{name}: {tensors} tensors; invariant under " + ", ".join(f"{t} {n}" for t, n in counts.items())
        )
        for line in hz.summary_lines(calls):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
