from my_norm import MyNorm

import invcheck


def test_my_norm_keeps_case_rescaling() -> None:
    invcheck.assert_invariant(MyNorm, "case_rescale", kwargs={"features": "{units}"})


def test_my_norm_sees_a_shift() -> None:
    invcheck.assert_not_invariant(MyNorm, "dataset_recenter", kwargs={"features": "{units}"})
