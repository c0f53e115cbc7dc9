"""Opt-in glibc allocator thresholds: keep freed batch memory instead of returning it.

Every training step allocates the same few-megabyte tensors and frees them. With glibc's
default (dynamic) thresholds, freed memory may go back to the kernel and page-fault in
again at the next step. :func:`tune_malloc` raises the mmap threshold to 32 MiB (the
ceiling glibc's own dynamic threshold reaches) and the trim threshold to 512 MiB.

It is off unless ``SKLEARN_GENRE_TUNE_MALLOC=1``: the setting is process-wide, and glibc
cannot report its thresholds, so it can be neither scoped to a fit nor undone; it also
keeps the memory a fit frees in the heap, which makes joblib's workers look as if they
leaked. When on, it is applied once per process at the first fit or prediction, does
nothing where the C library is not glibc or for a threshold the user set with glibc's
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``, and leaves predictions
unchanged. What it buys is measured in docs/benchmarks.md (``benchmarks/bench_speed.py
--tune-malloc``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_malloc"]

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 512 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers

_lock = threading.Lock()
_applied: dict[str, int] | None = None


def tune_malloc() -> dict[str, int]:
    """Apply the thresholds once per process; return what was set (may be empty).

    Returns
    -------
    applied : dict of str to int
        ``{"M_MMAP_THRESHOLD": bytes, "M_TRIM_THRESHOLD": bytes}``, or the subset that
        was set; empty when tuning is off (the default), overridden or unavailable.
    """
    global _applied
    with _lock:
        if _applied is not None:
            return dict(_applied)
        _applied = {}
        if os.environ.get("SKLEARN_GENRE_TUNE_MALLOC", "0").strip().lower() not in (
                "1", "true", "yes"):
            return {}
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return {}
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # pragma: no cover - glibc always has it
            return {}
        for name, param, value, env in (
                ("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD, MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
                ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_")):
            if env in os.environ:  # the user's own choice wins
                continue
            if mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1:
                _applied[name] = value
        return dict(_applied)
