# my_transforms.py, beside the spec
import math

import torch


def rescale_data(x, w, generator, scale=(0.1, 10.0)):
    """X' = δ X, one δ log-uniform on `scale` (dataset_rescale, written by hand)."""
    low, high = math.log(scale[0]), math.log(scale[1])
    delta = math.exp(low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64).item())
    return delta * x, w


def permute_units(x, w, generator):
    """The units (rows of W) in a random order: every output moves with them."""
    return x, w[torch.randperm(w.shape[0], generator=generator)]


def shift_features(x, w, generator, amount=1.0):
    """Every input feature shifted by the same amount (kwargs: amount)."""
    return x + amount, w
