"""Batches of lazily loaded windows for torch's ``DataLoader``, read a batch at a time.

torch's ``DataLoader`` asks a dataset for one item at a time and collates the items
into a batch: per track, the windows are read, checked and normalized window by
window, then copied again into the batch. :class:`WindowBatches` implements
``__getitems__`` (which the ``DataLoader`` calls with a whole batch of indices), so
:meth:`sklearn_genre.LazyWindows.read_batch` copies each window once from its file
into the batch and runs every check and normalization once per batch: about 5x less
CPU per track from a time-major copy (measured in docs/scaling.md).

:class:`IdleWorkers` lowers the priority of ``DataLoader`` worker processes, so the
reading fills the time the training step leaves a core idle instead of preempting
the training threads (whose batch halves wait for each other).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from functools import partial

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

from .transformers import _batch_tensor, shared_float32

__all__ = ["IdleWorkers", "ReusedBuffers", "WindowBatches", "collated", "loader_over_windows",
           "random_crops", "window_batches"]


_use_count = getattr(torch._C, "_storage_Use_Count", None)
_new_shared = getattr(torch.UntypedStorage, "_new_shared", None)


class WindowBatches(torch.utils.data.Dataset):
    """Dataset over :class:`~sklearn_genre.LazyWindows` returning whole batches.

    Parameters
    ----------
    windows : LazyWindows
    y : np.ndarray [shape=(n_tracks, ...)] or None
        None yields zeros as skorch's placeholder targets.
    indices : np.ndarray [shape=(n_rows,)] or None
        Rows of ``windows`` to use (a ``Subset``'s), all by default.
    crop_frames : int or None, default=None
        Replace every window by a random crop of this many frames (the classifier's
        ``train_crop_frames``, as :class:`sklearn_genre.classifier.RandomCropDataset`);
        windows not longer than that stay whole.
    """

    def __init__(self, windows, y, indices=None, crop_frames=None):
        self.windows = windows
        self.y = y
        self.indices = np.arange(len(windows)) if indices is None else np.asarray(indices)
        self.crop_frames = crop_frames
        self.free = None  # shared flags of reusable batch buffers (share_buffers)
        self.slots_per_worker = 0
        self._buffers = {}  # worker-local: slot -> flat shared-memory float32 tensor

    def __getstate__(self):
        return {**self.__dict__, "_buffers": {}}

    def share_buffers(self, n_workers: int, slots_per_worker: int):
        """Let each of ``n_workers`` workers write its batches into ``slots_per_worker``
        shared-memory buffers, reused once :class:`ReusedBuffers` (in the training
        process) sees a batch released; ``__getitems__`` then also returns the slot.

        A buffer sent again is found in torch's cache of received shared storages
        (kept alive by :class:`ReusedBuffers`): no new mapping, no page faults in the
        training process (measured 5.4 -> 1.5 ms per 17 MB batch on its thread).
        """
        self.free = torch.ones(n_workers * slots_per_worker, dtype=torch.uint8)
        self.free.share_memory_()
        self.slots_per_worker = slots_per_worker
        return self

    def __len__(self):
        return len(self.indices)

    def _take_slot(self) -> int:
        info = torch.utils.data.get_worker_info()
        if self.free is None or info is None or _new_shared is None:
            return -1
        free = self.free.numpy()
        first = info.id * self.slots_per_worker
        for slot in range(first, first + self.slots_per_worker):
            if free[slot]:
                free[slot] = 0
                return slot
        return -1  # every buffer still in use: fresh memory for this batch

    def _slot_buffer(self, slot: int, numel: int) -> torch.Tensor:
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.numel() < numel:
            buffer = shared_float32(numel)
            self._buffers[slot] = buffer
        return buffer

    def __getitems__(self, rows):
        """``(X, y)`` of a batch, ``X [shape=(n, n_windows, n_mels, window_frames)]``;
        ``(X, y, slot)`` with ``y`` as an array after :meth:`share_buffers`."""
        tracks = self.indices[np.asarray(rows, dtype=np.int64)]
        slot = self._take_slot()
        allocate = None if slot < 0 else partial(self._slot_buffer, slot)
        if self.crop_frames is None or self.windows.windower.window_frames <= self.crop_frames:
            X = self.windows.read_batch(tracks, allocate=allocate)
        else:
            X = random_crops(self.windows.read_batch(tracks), self.crop_frames, allocate)
        y = (np.zeros(len(tracks), dtype=np.float32) if self.y is None
             else np.ascontiguousarray(self.y[tracks]))
        if self.free is None:
            return X, torch.from_numpy(y)
        return X, y, slot  # an array travels inside the message, a tensor as a handle

    def __getitem__(self, row):
        batch = self.__getitems__([row])
        return batch[0][0], torch.as_tensor(batch[1][0])


class ReusedBuffers:
    """Iterate a ``DataLoader`` over :class:`WindowBatches` with shared buffers, yielding
    ``(X, y)``; a buffer is handed back to its worker once nothing but this object
    holds its batch (storage use count), never earlier.

    Parameters
    ----------
    loader : torch.utils.data.DataLoader
    free : torch.Tensor [shape=(n_slots,), dtype=uint8]
        :attr:`WindowBatches.free`.
    """

    def __init__(self, loader, free):
        self.loader = loader
        self.free = free
        self.held = {}  # slot -> storage: keeps the mapping in torch's shared cache
        self.pending = set()  # slots whose batch may still be in use

    def __len__(self):
        return len(self.loader)

    def _release(self):
        free = self.free.numpy()
        for slot in list(self.pending):
            if _use_count(self.held[slot]._cdata) <= 1:  # only self.held
                self.pending.discard(slot)
                free[slot] = 1

    def __iter__(self):
        for X, y, slot in self.loader:
            self._release()
            if slot >= 0:
                self.held[slot] = X.untyped_storage()
                self.pending.add(slot)
            yield X, torch.as_tensor(y)
        self._release()


def random_crops(windows: torch.Tensor, crop_frames: int, allocate=None) -> torch.Tensor:
    """A random crop of ``crop_frames`` frames of every window, in the same memory layout.

    Parameters
    ----------
    windows : torch.Tensor [shape=(n, n_windows, n_mels, window_frames)]
    crop_frames : int
        At most ``window_frames``.
    allocate : callable or None
        As for :meth:`sklearn_genre.LazyWindows.read_batch`.

    Returns
    -------
    crops : torch.Tensor [shape=(n, n_windows, n_mels, crop_frames)]
        Offsets drawn from torch's RNG, track by track.
    """
    n, n_windows, n_mels, n_frames = windows.shape
    time_major = windows.dim() == 4 and windows.transpose(2, 3).is_contiguous() and n_mels > 1
    out = _batch_tensor((n, n_windows, n_mels, crop_frames), time_major, allocate)
    for row in range(n):
        starts = torch.randint(0, n_frames - crop_frames + 1, (n_windows,)).tolist()
        for w, start in enumerate(starts):
            out[row, w].copy_(windows[row, w, :, start:start + crop_frames])
    return out


def collated(batch):
    """``collate_fn`` for :class:`WindowBatches`: its batches come collated."""
    return batch


def window_batches(dataset):
    """A :class:`WindowBatches` over a skorch ``Dataset`` of ``LazyWindows`` (or its
    ``Subset``, or a ``RandomCropDataset`` of these); None for any other dataset."""
    indices, crop_frames = None, None
    if hasattr(dataset, "crop_frames") and hasattr(dataset, "dataset"):  # RandomCropDataset
        crop_frames, dataset = dataset.crop_frames, dataset.dataset
    if isinstance(dataset, Subset):
        indices, dataset = dataset.indices, dataset.dataset
    if type(dataset) is not Dataset or not hasattr(dataset.X, "read_batch"):
        return None
    if dataset.y is not None and not isinstance(dataset.y, np.ndarray):
        return None
    return WindowBatches(dataset.X, dataset.y, indices, crop_frames)


def loader_over_windows(iterator, dataset, params: dict, *, reuse: bool):
    """Build ``iterator(dataset, **params)``, reading :class:`~sklearn_genre.LazyWindows`
    a batch at a time (unless ``params`` has a ``collate_fn``); None for other data.

    With workers and ``reuse``, batches come in reused shared buffers
    (:meth:`WindowBatches.share_buffers`, :class:`ReusedBuffers`).
    """
    batches = window_batches(dataset) if "collate_fn" not in params else None
    if batches is None:
        return None
    params = {**params, "collate_fn": collated}
    n_workers = params.get("num_workers", 0)
    if not (reuse and n_workers > 0 and _use_count is not None and _new_shared is not None):
        return iterator(batches, **params)
    # a buffer comes back two batches after its use; prefetch_factor are queued per worker
    slots = (params.get("prefetch_factor") or 2) + 3
    batches.share_buffers(n_workers, slots)
    return ReusedBuffers(iterator(batches, **params), batches.free)


class IdleWorkers:
    """``worker_init_fn`` that lowers the CPU priority of ``DataLoader`` workers.

    ``"idle"``: Linux ``SCHED_IDLE`` (a worker runs only on a core nothing else wants;
    ``nice`` 19 on other Unix systems); ``"low"``: ``nice`` 10 (about a tenth of a
    core's time when training wants both cores). Then calls ``then``.

    Parameters
    ----------
    then : callable ``(worker_id) -> None`` or None
        The user's own ``worker_init_fn``.
    priority : {"idle", "low"}, default="idle"
    """

    def __init__(self, then=None, priority="idle"):
        self.then = then
        self.priority = priority

    def __call__(self, worker_id):
        lower_priority(self.priority)
        if self.then is not None:
            self.then(worker_id)


#: ``ioprio_set`` / ``ioprio_get`` system call numbers (not wrapped by Python's ``os``)
_IOPRIO_SYSCALLS = {"x86_64": (251, 252), "aarch64": (30, 31)}
_IOPRIO_CLASS_BE, _IOPRIO_CLASS_SHIFT = 2, 13


def _ioprio(set_value=None):
    """This thread's I/O priority (``ioprio_get``), or set it (``ioprio_set``); None
    where the system call is not known."""
    numbers = _IOPRIO_SYSCALLS.get(platform.machine())
    if numbers is None or not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if set_value is None:
        return libc.syscall(numbers[1], 1, 0)  # IOPRIO_WHO_PROCESS, this thread
    return libc.syscall(numbers[0], 1, 0, set_value)


def lower_priority(priority: str = "idle") -> str:
    """Lower this thread's (a worker process's main thread's) CPU priority; return how.

    Linux derives the I/O class from ``SCHED_IDLE`` too (the idle class, served only
    when the disk has nothing else to do): measured, that made cold reads of the
    band-major dump 1.6x slower, so the I/O priority is set back to best-effort.
    """
    if priority == "idle" and hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
        else:
            best_effort = (_IOPRIO_CLASS_BE << _IOPRIO_CLASS_SHIFT) | 4
            if _ioprio(best_effort) == 0:
                return "SCHED_IDLE, best-effort I/O"
            return "SCHED_IDLE"
    if hasattr(os, "nice"):
        try:
            os.nice(19 if priority == "idle" else 10)
            return f"nice {19 if priority == 'idle' else 10}"
        except OSError:
            pass
    return "unchanged"
