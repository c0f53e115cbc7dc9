"""Windows of frames read from a time-major ``.npy`` file with one ``pread`` each.

Memory-mapping a file per track costs an ``mmap``/``munmap`` pair and a page fault per
page touched, in every DataLoader worker and at every read: for 4 windows of a
4-minute track, about as much as reading them. :class:`TimeMajorNpy` instead keeps
the file's header (parsed once per process) and reads each window's contiguous
bytes into a buffer; measured on cached files, 2x cheaper per track.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

from ..exceptions import DataFileError

__all__ = ["TimeMajorNpy"]

_headers: dict = {}
_lock = threading.Lock()


def _header(path: str):
    """``(data offset, shape, dtype)`` of an ``.npy`` file, cached by path, size, mtime."""
    try:
        stat = os.stat(path)
    except FileNotFoundError as exc:
        raise DataFileError(f"mel file not found: {path}") from exc
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _lock:
        found = _headers.get(key)
    if found is not None:
        return found
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise DataFileError(f"mel file {path} is corrupt or unreadable: {exc}") from exc
    if fortran or dtype.hasobject:
        raise DataFileError(f"mel file {path} is not a C-ordered numeric array.")
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    if stat.st_size < expected:
        raise DataFileError(f"mel file {path} is truncated: {stat.st_size} bytes, "
                            f"{expected} expected.")
    with _lock:
        _headers[key] = (offset, shape, dtype)
    return offset, shape, dtype


class TimeMajorNpy:
    """A time-major ``.npy`` file ``(n_frames, n_mels)`` seen as ``(n_mels, n_frames)``.

    Behaves as a read-only 2-D array for numpy (``np.asarray`` reads the whole file);
    ``track[:, a:b]`` and :meth:`read_windows` read only the frames asked for.

    Parameters
    ----------
    path : str
    offset : int
        Byte offset of the data in the file.
    shape : tuple of int
        ``(n_frames, n_mels)`` as stored.
    dtype : np.dtype
    """

    def __init__(self, path, offset, shape, dtype):
        self.path, self.offset, self.dtype = path, offset, np.dtype(dtype)
        self.n_frames, self.n_mels = shape
        self.shape = (self.n_mels, self.n_frames)
        self.ndim = 2

    @classmethod
    def open(cls, path):
        """Read ``path``'s header (once per process) and return the reader."""
        offset, shape, dtype = _header(str(path))
        if len(shape) != 2 or dtype.kind != "f":
            raise DataFileError(f"mel file {path} holds a {dtype} array of shape {shape}; "
                                "expected float (n_frames, n_mels).")
        return cls(str(path), offset, shape, dtype)

    def _read_rows(self, starts, length: int) -> np.ndarray:
        """Frames ``start:start + length`` for each start, as ``(k, length, n_mels)``."""
        row = self.n_mels * self.dtype.itemsize
        out = np.empty((len(starts), length, self.n_mels), self.dtype)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for i, start in enumerate(starts):
                got = os.preadv(fd, [memoryview(out[i]).cast("B")],
                                self.offset + int(start) * row)
                if got != length * row:
                    raise DataFileError(f"mel file {self.path} is truncated (short read).")
        finally:
            os.close(fd)
        return out

    def read_windows(self, starts, length: int) -> np.ndarray:
        """Windows ``(k, n_mels, length)`` in float32 starting at ``starts`` (frames)."""
        starts = np.asarray(starts, dtype=np.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + length > self.n_frames):
            raise IndexError(f"windows of {length} frames at {starts.tolist()} do not fit in "
                             f"{self.n_frames} frames of {self.path}.")
        rows = torch.from_numpy(self._read_rows(starts, length))
        return rows.transpose(1, 2).to(torch.float32,
                                       memory_format=torch.contiguous_format).numpy()

    def __getitem__(self, key):
        if (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)
                and isinstance(key[1], slice) and key[1].step in (None, 1)):
            start, stop, _ = key[1].indices(self.n_frames)
            return self._read_rows([start], max(stop - start, 0))[0].T
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None):
        whole = self._read_rows([0], self.n_frames)[0].T
        return whole if dtype is None else whole.astype(dtype)

    def __len__(self):
        return self.n_mels

    def __repr__(self):
        return f"TimeMajorNpy({self.path!r}, {self.n_mels} bands x {self.n_frames} frames)"
