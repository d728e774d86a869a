import functools

import torch.nn.functional as F
from torch import nn

import invcheck


def test_an_instance():
    ln = nn.LayerNorm(64)  # its own size, parameters, eps and mode; copied, never changed
    invcheck.assert_invariant(ln, "dataset_rescale")
    invcheck.assert_not_invariant(ln, "dataset_recenter")


def test_a_lambda_and_a_partial():
    invcheck.assert_invariant(lambda a: a / a.norm(dim=1, keepdim=True), "case_rescale")
    invcheck.assert_invariant(functools.partial(F.rms_norm, normalized_shape=[16]), "dataset_rescale")


def test_my_mistake():
    invcheck.assert_invariant(nn.GroupNorm(4, 16), "weight_vector_rescale")
