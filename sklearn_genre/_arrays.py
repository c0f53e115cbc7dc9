"""Small array helpers shared by validation, the lazy containers and the batch path."""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["as_float32", "empty_batch", "shared_float32"]


def as_float32(arr: np.ndarray) -> np.ndarray:
    """``arr`` as float32 in C order; float16 through torch's vectorized conversion.

    numpy converts float16 element by element (about 2x slower than torch), which
    showed in out-of-core reads of float16 dumps.
    """
    if arr.dtype == np.float16 and min(arr.strides, default=0) >= 0:
        with warnings.catch_warnings():  # read-only memory maps: never written
            warnings.simplefilter("ignore", UserWarning)
            half = torch.from_numpy(arr)
        return half.to(torch.float32, memory_format=torch.contiguous_format).numpy()
    return np.ascontiguousarray(arr, dtype=np.float32)


def shared_float32(numel: int) -> torch.Tensor:
    """Empty 1-D float32 tensor in shared memory (reused batch buffers of DataLoader
    workers: sent to the training process without a copy)."""
    return torch.empty(numel, dtype=torch.float32).share_memory_()


def empty_batch(shape, time_major: bool, allocate=None) -> torch.Tensor:
    """Empty float32 ``(n, n_windows, n_mels, n_frames)`` from ``allocate`` or fresh memory;
    a transposed view of ``(n, n_windows, n_frames, n_mels)`` memory when ``time_major``.

    Parameters
    ----------
    shape : tuple of int [(n, n_windows, n_mels, n_frames)]
    time_major : bool
    allocate : callable ``(numel) -> torch.Tensor [shape=(>= numel,), dtype=float32]`` or None
    """
    memory = (*shape[:2], shape[3], shape[2]) if time_major else tuple(shape)
    numel = int(np.prod(memory))
    if allocate is not None:
        out = allocate(numel)[:numel].view(memory)
    else:
        out = torch.empty(memory, dtype=torch.float32)
    return out.transpose(2, 3) if time_major else out
