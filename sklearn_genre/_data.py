"""The one data path: training and prediction batches from every kind of input.

After validation an estimator holds either a 4-D array ``(n_tracks, n_windows, n_mels,
n_frames)`` (in memory, memory-mapped or read-only) or :class:`~sklearn_genre.LazyWindows`
(random training windows of ragged tracks, out-of-core dumps). :func:`iterator_for`
picks how its batches are made:

- in the calling process (no ``DataLoader``, the default): :class:`Batches` gathers the
  rows of an array (a view for consecutive rows, one gather into a reused buffer
  otherwise: a fresh 34 MB batch page-faults every page, 12 ms against 1.5 ms) or reads
  lazy windows a batch at a time (:meth:`~sklearn_genre.LazyWindows.read_batch`);
- with ``DataLoader`` workers (``iterator_train__num_workers > 0``) or other
  ``DataLoader`` settings: torch's ``DataLoader`` over lazy windows a batch at a time,
  in reused shared-memory buffers (:mod:`sklearn_genre._workers`);
- anything else (another iterator class or dataset) goes to skorch's own construction.

Random crops and augmentation are not made here: the training step applies them to
every training batch, whatever the path (:mod:`sklearn_genre.engine.augment`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

from ._lazy import LazyWindows
from ._workers import loader_over_windows, worker_init_for
from .engine._torch import has_storage_use_count, storage_use_count

__all__ = ["Batches", "batches_for", "iterator_for", "unwrap"]


class _Buffers:
    """Reusable output tensors for batch gathers, never handed out while still in use.

    A buffer is reused only when its storage has no holder besides this object (a batch
    still referenced, or any view of it, keeps its buffer out of reach).
    """

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.free_count = {}
        self.buffers = []

    def get(self, shape, dtype):
        for buffer in self.buffers:
            if (buffer.shape == shape and buffer.dtype == dtype
                    and storage_use_count(buffer) == self.free_count[id(buffer)]):
                return buffer
        buffer = torch.empty(shape, dtype=dtype)
        if has_storage_use_count():
            self.buffers.append(buffer)
            self.free_count[id(buffer)] = storage_use_count(buffer)
            if len(self.buffers) > self.keep:
                old = self.buffers.pop(0)
                del self.free_count[id(old)]
        return buffer


def _consecutive(rows: np.ndarray) -> bool:
    return bool(len(rows)) and rows[-1] - rows[0] == len(rows) - 1 and \
        bool(np.all(np.diff(rows) == 1))


class Batches:
    """Iterable of ``(X_batch, y_batch)`` tensors over the tracks of an array or of lazy
    windows, made in the calling process.

    Parameters
    ----------
    X : np.ndarray [shape=(n_tracks, n_windows, n_mels, n_frames)] or LazyWindows
    y : np.ndarray [shape=(n_tracks, ...)] or None
        None yields zeros as skorch's placeholder targets.
    indices : np.ndarray [shape=(n_rows,)] or None
        Tracks to use (a ``Subset``'s), all by default.
    batch_size : int
    shuffle : bool
        Draw a new order every pass from torch's global RNG (seeded fits stay
        reproducible).
    pin_memory : bool, default=False
        Yield page-locked tensors (faster, asynchronous copies to a GPU).
    """

    def __init__(self, X, y, indices, batch_size: int, shuffle: bool,
                 pin_memory: bool = False):
        self.X, self.y = X, y
        self.indices = np.arange(len(X)) if indices is None else np.asarray(indices)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.pin_memory = pin_memory

    def __len__(self):
        return -(-len(self.indices) // self.batch_size)

    def _array_source(self):
        """The array as a tensor sharing its memory, or None (copied batch by batch)."""
        X = self.X
        if (isinstance(X, np.ndarray) and not self.pin_memory and X.flags.c_contiguous
                and X.dtype in (np.float16, np.float32, np.float64)):
            with warnings.catch_warnings():  # read-only arrays: never written through
                warnings.simplefilter("ignore", UserWarning)
                return torch.from_numpy(X)
        return None

    def _gather(self, source, buffers, rows):
        if isinstance(self.X, LazyWindows):
            return self.X.read_batch(rows)
        if source is None:
            part = self.X[rows[0]:rows[-1] + 1] if _consecutive(rows) else self.X[rows]
            return torch.from_numpy(np.ascontiguousarray(part))
        if _consecutive(rows):
            return source[rows[0]:rows[-1] + 1]  # a view
        out = buffers.get((len(rows),) + tuple(source.shape[1:]), source.dtype)
        torch.index_select(source, 0, torch.from_numpy(rows), out=out)
        return out.view(out.shape)  # an alias: holding it counts as holding the buffer

    def _order(self):
        """The tracks in this pass's order, drawn from torch's generator as a
        ``DataLoader`` draws them (its iterator's base seed, then ``RandomSampler``'s
        permutation), so a seeded fit sees the same batches whether they come from here
        or from a ``DataLoader``."""
        torch.empty((), dtype=torch.int64).random_()  # the DataLoader iterator's base seed
        if not self.shuffle:
            return self.indices
        seed = int(torch.empty((), dtype=torch.int64).random_().item())
        generator = torch.Generator().manual_seed(seed)
        return self.indices[torch.randperm(len(self.indices), generator=generator).numpy()]

    def __iter__(self):
        order = self._order()
        source, buffers = self._array_source(), _Buffers()
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            Xb = self._gather(source, buffers, rows)
            if self.y is None:
                yb = torch.zeros(len(rows))
            else:
                part = self.y[rows[0]:rows[-1] + 1] if _consecutive(rows) else self.y[rows]
                yb = torch.as_tensor(np.ascontiguousarray(part))
            if self.pin_memory:
                Xb, yb = Xb.pin_memory(), yb.pin_memory()
            yield Xb, yb


def unwrap(dataset):
    """``(X, y, indices)`` of a skorch ``Dataset`` or its ``Subset`` over an array or lazy
    windows; None for any other dataset."""
    indices = None
    if isinstance(dataset, Subset):
        indices, dataset = np.asarray(dataset.indices), dataset.dataset
    if type(dataset) is not Dataset or not isinstance(dataset.X, np.ndarray | LazyWindows):
        return None
    if dataset.y is not None and not isinstance(dataset.y, np.ndarray):
        return None
    return dataset.X, dataset.y, indices


def batches_for(dataset, batch_size: int, shuffle: bool, pin_memory: bool = False):
    """A :class:`Batches` over ``dataset`` (see :func:`unwrap`), or None."""
    parts = unwrap(dataset)
    if parts is None:
        return None
    X, y, indices = parts
    if batch_size == -1:
        batch_size = len(X) if indices is None else len(indices)
    return Batches(X, y, indices, batch_size, shuffle, pin_memory)


def iterator_for(net, dataset, *, training: bool):
    """The batch iterator of a skorch net (see the module docstring).

    Parameters
    ----------
    net : sklearn_genre._base.CRNNBase
    dataset : torch.utils.data.Dataset
    training : bool

    Returns
    -------
    iterator : iterable of ``(X_batch, y_batch)``
    """
    prefix = "iterator_train" if training else "iterator_valid"
    params = net.get_params_for(prefix)
    iterator = net.iterator_train if training else net.iterator_valid
    pin = str(net.device).startswith("cuda")
    accelerated = getattr(net, "accelerator", None) is not None  # accelerate shards loaders
    if (iterator is torch.utils.data.DataLoader and set(params) <= {"batch_size", "shuffle"}
            and not accelerated):
        batches = batches_for(dataset, params.get("batch_size", net.batch_size),
                              shuffle=bool(params.get("shuffle", False)), pin_memory=pin)
        if batches is not None:
            return batches
    # skorch's own construction, plus pinned memory by default for a GPU
    params.setdefault("batch_size", net.batch_size)
    if params["batch_size"] == -1:
        params["batch_size"] = len(dataset)
    if iterator is torch.utils.data.DataLoader:
        if pin:
            params.setdefault("pin_memory", True)
        init = worker_init_for(net.worker_priority, params)
        if init is not None:
            params["worker_init_fn"] = init
        # GPUs copy batches to pinned memory, accelerate re-wraps loaders: no reuse
        loader = loader_over_windows(iterator, unwrap(dataset), params,
                                     reuse=not params.get("pin_memory", False)
                                     and not accelerated)
        if loader is not None:
            return loader
    return iterator(dataset, **params)
