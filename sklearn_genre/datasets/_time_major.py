"""A time-major copy of a mel dump: windows of frames become contiguous reads.

MTG-Jamendo's ``.npy`` files are band-major, ``(96, n_frames)``: a window of frames
touches all 96 rows, so reading it pulls about a page per band (and the kernel's
readahead, much of the file). Training out of core from random windows then costs
more in page faults than the network's own step. :func:`to_time_major` writes each
track once as ``(n_frames, n_mels)``, by default in float16 (half the disk; dB mels
lose at most 0.03 dB), and returns a ``LazyMelList(time_major=True)`` over the copy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from ..exceptions import DataFileError
from ._base import atomic_save_npy
from ._mtg import LazyMelList, load_mel

__all__ = ["to_time_major"]


def _target(out_dir: Path, index: int, path: str, dtype) -> Path:
    stat = os.stat(path)
    key = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{np.dtype(dtype).str}"
    return out_dir / f"{index:07d}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npy"


def _convert(path: str, target: Path, n_mels, dtype) -> None:
    if target.exists():  # written atomically: present means complete
        return
    mel = np.asarray(load_mel(path, mmap=False, n_mels=n_mels))
    if not np.isfinite(mel).all():
        raise DataFileError(f"mel file {path} holds NaN or infinite values.")
    limit = np.finfo(dtype).max
    if np.abs(mel).max(initial=0.0) > limit:
        raise DataFileError(f"mel file {path} holds values beyond {dtype}'s range "
                            f"(+-{limit:g}); use dtype='float32'.")
    atomic_save_npy(target, np.ascontiguousarray(mel.T, dtype=dtype))


def to_time_major(X, out_dir, *, dtype="float16", n_jobs=1) -> LazyMelList:
    """Write a time-major copy of a mel dump; return a lazy list over it.

    Parameters
    ----------
    X : LazyMelList or sequence of str
        The band-major dump (``(n_mels, n_frames)`` per file), or its paths.
    out_dir : str or Path
        Where the copies go, one ``.npy`` per track. Files already there from an earlier
        call (same source path, size, modification time and dtype) are reused, so an
        interrupted conversion resumes; each file is written atomically.
    dtype : {"float16", "float32"}, default="float16"
    n_jobs : int, default=1
        Tracks converted in parallel threads.

    Returns
    -------
    X_time_major : LazyMelList
        Same tracks, same order, ``time_major=True``: indexing still returns
        ``(n_mels, n_frames)`` arrays.

    Raises
    ------
    DataFileError
        Naming the file: missing, corrupt, wrong shape, non-finite, out of ``dtype``'s
        range.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype}.")
    if isinstance(X, LazyMelList):
        if X.time_major:
            raise ValueError("X is already time-major.")
        paths, n_mels = X.paths, X.n_mels
    else:
        paths, n_mels = [str(p) for p in X], 96
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = []
    for i, path in enumerate(paths):
        try:
            targets.append(_target(out_dir, i, path, dtype))
        except FileNotFoundError as exc:
            raise DataFileError(f"mel file not found: {path}") from exc
    Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_convert)(path, target, n_mels, dtype) for path, target in zip(paths, targets))
    mmap = X.mmap if isinstance(X, LazyMelList) else True
    return LazyMelList(targets, mmap=mmap, n_mels=n_mels, time_major=True)
