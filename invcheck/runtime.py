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
    """`cpu`, `cuda` or `cuda:N` (an error where there is none), or `auto` (cuda when present)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda") or (device.type == "cpu" and device.index):
        raise DeviceError(f"unknown device '{name}' (use cpu, cuda, cuda:N or auto)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device '{name}' requested, but this PyTorch ({torch.__version__}) sees no CUDA "
            "device (use --device cpu or --device auto)"
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise DeviceError(
            f"device '{name}' requested, but only {torch.cuda.device_count()} CUDA device(s) exist"
        )
    return device


def device_name(device: torch.device) -> str:
    """Human name of the device, recorded in reports."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


@contextlib.contextmanager
def numerics(device: torch.device, tf32: bool) -> Iterator[None]:
    """The numerics a check runs under. CUDA: TF32 and reduced-precision reductions off unless asked.

    TF32 rounds float32 matmul inputs to 10 mantissa bits, and fp16/bf16 GEMMs may reduce in half
    precision; both would blur a float32 or half-precision verdict. Settings are restored after.
    """
    if device.type != "cuda":
        # A check's tensors are tiny: one intra-op thread is as fast, and on a busy machine it
        # avoids oversubscription stalls of 10-40x (seen on 2 cores). Restored after.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
        return
    mm = torch.backends.cuda.matmul
    saved = (
        mm.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        mm.allow_fp16_reduced_precision_reduction,
        mm.allow_bf16_reduced_precision_reduction,
    )
    mm.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    mm.allow_fp16_reduced_precision_reduction = mm.allow_bf16_reduced_precision_reduction = False
    try:
        yield
    finally:
        (
            mm.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            mm.allow_fp16_reduced_precision_reduction,
            mm.allow_bf16_reduced_precision_reduction,
        ) = saved
