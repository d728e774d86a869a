"""batch_norm in eval mode with no warm-up batch: the running statistics are their initial values
(0, 1), in both implementations alike."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from invcheck.api import invariance_error


def test_eval_mode_with_no_warmup_batch_runs_and_both_impls_agree() -> None:
    found = [
        invariance_error("batch_norm", "dataset_rescale", mode="eval", warmup_batches=0, impl=impl, trials=2)
        for impl in ("reference", "torch")
    ]
    assert [r.verdict for r in found] == ["not_invariant", "not_invariant"]  # y = g a + b: scales with a
    assert found[0].deviation == pytest.approx(found[1].deviation, rel=1e-9)
