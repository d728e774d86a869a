"""Devices, dtypes and the numerics settings a check runs under."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from invcheck.errors import DeviceError

DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda` (an error where there is none) or `auto` (cuda when present)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(
            f"device '{name}' requested, but this PyTorch ({torch.__version__}) sees no CUDA device "
            "(use --device cpu or --device auto)"
        )
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise DeviceError(f"unknown device '{name}': {err}") from None


def device_name(device: torch.device) -> str:
    """Human name of the device, recorded in reports."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


@contextlib.contextmanager
def numerics(device: torch.device, tf32: bool) -> Iterator[None]:
    """IEEE arithmetic for checks on CUDA: TF32 and reduced-precision reductions off unless asked.

    TF32 rounds float32 matmul inputs to 10 mantissa bits, and fp16/bf16 GEMMs may reduce in half
    precision; both would blur a float32 or half-precision verdict. Settings are restored after.
    """
    if device.type != "cuda":
        yield
        return
    mm = torch.backends.cuda.matmul
    saved = (mm.allow_tf32, torch.backends.cudnn.allow_tf32,
             mm.allow_fp16_reduced_precision_reduction, mm.allow_bf16_reduced_precision_reduction)
    mm.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    mm.allow_fp16_reduced_precision_reduction = mm.allow_bf16_reduced_precision_reduction = False
    try:
        yield
    finally:
        (mm.allow_tf32, torch.backends.cudnn.allow_tf32,
         mm.allow_fp16_reduced_precision_reduction, mm.allow_bf16_reduced_precision_reduction) = saved
