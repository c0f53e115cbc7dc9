"""Lazy windows through torch's ``DataLoader`` workers, a batch per call, in reused
shared memory, at a low CPU priority.

torch's ``DataLoader`` asks a dataset for one item at a time and collates the items into
a batch. :class:`WindowBatches` implements ``__getitems__`` (which the ``DataLoader``
calls with a whole batch of indices), so :meth:`sklearn_genre.LazyWindows.read_batch`
copies each window once from its file into the batch and runs every check and
normalization once per batch (about 5x less CPU per track from a time-major copy,
docs/scaling.md). Workers write batches into reused shared-memory buffers
(:class:`ReusedBuffers`), and :class:`IdleWorkers` lowers their priority so the reading
fills the time the training step leaves a core idle instead of preempting it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from functools import partial

import numpy as np
import torch

from ._arrays import shared_float32
from .engine._torch import has_storage_use_count, storage_use_count

__all__ = ["IdleWorkers", "ReusedBuffers", "WindowBatches", "collated", "loader_over_windows",
           "lower_priority", "worker_init_for"]

PRIORITIES = ("idle", "low", "normal")


class WindowBatches(torch.utils.data.Dataset):
    """Dataset over :class:`~sklearn_genre.LazyWindows` returning whole batches.

    Parameters
    ----------
    windows : LazyWindows
    y : np.ndarray [shape=(n_tracks, ...)] or None
        None yields zeros as skorch's placeholder targets.
    indices : np.ndarray [shape=(n_rows,)] or None
        Rows of ``windows`` to use (a ``Subset``'s), all by default.
    """

    def __init__(self, windows, y, indices=None):
        self.windows = windows
        self.y = y
        self.indices = np.arange(len(windows)) if indices is None else np.asarray(indices)
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
        if self.free is None or info is None:
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
        X = self.windows.read_batch(tracks, allocate=allocate)
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
            if storage_use_count(self.held[slot]) <= 1:  # only self.held
                self.pending.discard(slot)
                free[slot] = 1

    def __iter__(self):
        for X, y, slot in self.loader:
            self._release()
            if slot >= 0:
                self.held[slot] = X.untyped_storage()  # keeps the mapping in torch's cache
                self.pending.add(slot)
            yield X, torch.as_tensor(y)
        self._release()



def collated(batch):
    """``collate_fn`` for :class:`WindowBatches`: its batches come collated."""
    return batch


def loader_over_windows(iterator, parts, params: dict, *, reuse: bool):
    """Build ``iterator(WindowBatches(...), **params)`` for lazy windows ``parts`` (``(X,
    y, indices)`` from :func:`sklearn_genre._data.unwrap`) unless ``params`` has a
    ``collate_fn``; None for other data.

    With workers and ``reuse``, batches come in reused shared buffers
    (:meth:`WindowBatches.share_buffers`, :class:`ReusedBuffers`).
    """
    from ._lazy import LazyWindows

    if parts is None or not isinstance(parts[0], LazyWindows) or "collate_fn" in params:
        return None
    batches = WindowBatches(*parts)
    params = {**params, "collate_fn": collated}
    n_workers = params.get("num_workers", 0)
    if not (reuse and n_workers > 0 and has_storage_use_count()):
        return iterator(batches, **params)
    # a buffer comes back two batches after its use; prefetch_factor are queued per worker
    slots = (params.get("prefetch_factor") or 2) + 3
    batches.share_buffers(n_workers, slots)
    return ReusedBuffers(iterator(batches, **params), batches.free)


def worker_init_for(priority: str, params: dict):
    """The ``worker_init_fn`` that lowers ``DataLoader`` workers to ``priority`` (then runs
    the user's own), or None when nothing changes."""
    if priority not in PRIORITIES:
        raise ValueError(f"worker_priority must be 'idle', 'low' or 'normal', got "
                         f"{priority!r}.")
    if params.get("num_workers", 0) > 0 and priority != "normal":
        return IdleWorkers(params.get("worker_init_fn"), priority)
    return None


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
