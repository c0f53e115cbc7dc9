"""Lazy containers: tracks and windows computed only when they are read.

- :class:`LazyTracks`: a sequence of tracks loaded, checked and transformed on access; what
  validation and the transformers return for a lazily loading input (a memory-mapped dump),
  so a data set larger than memory streams one track at a time;
- :class:`LazyWindows`: the windows of each track, cut when the track is read; what
  :class:`~sklearn_genre.MelWindower` returns for lazy input or for random training windows;
  :meth:`LazyWindows.read_batch` reads a whole batch at once;
- :class:`WindowFiles`: what a file-backed track list
  (:class:`~sklearn_genre.datasets.LazyMelList`) provides so that a batch reads only the
  windows' frames;
- :class:`BatchStep`: a frame-local step (a check, a fitted normalization) that can run on a
  whole batch of windows instead of track by track.

Axis 0 is always the track; indexing with a slice or an index array returns another lazy
container, so scikit-learn's splitters and ``GridSearchCV`` work on them unchanged.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
import torch

from ._arrays import empty_batch

__all__ = ["BatchStep", "LazyTracks", "LazyWindows", "WindowFiles", "subset_tracks",
           "window_starts"]


def window_starts(n_frames: int, n_windows: int, window_frames: int) -> np.ndarray:
    """Return the start frame of each of ``n_windows`` windows spread over a track.

    Windows are spread evenly from the first frame to the last, overlapping when the
    track is shorter than ``n_windows * window_frames``; a track shorter than one window
    gives starts of 0 (it is padded).

    Parameters
    ----------
    n_frames : int
        Length of the track.
    n_windows : int
    window_frames : int

    Returns
    -------
    starts : np.ndarray [shape=(n_windows,), dtype=int64]

    Examples
    --------
    >>> from sklearn_genre.transformers import window_starts
    >>> window_starts(1000, 4, 250).tolist()
    [0, 250, 500, 750]
    >>> window_starts(400, 3, 250).tolist()
    [0, 75, 150]
    """
    last = max(n_frames - window_frames, 0)
    return np.round(np.linspace(0, last, n_windows)).astype(np.int64)


class WindowFiles(abc.ABC):
    """A sequence of tracks stored in files, from which windows can be read directly."""

    time_major: bool = False

    @abc.abstractmethod
    def track_shape(self, index: int) -> tuple:
        """``(n_mels, n_frames)`` of track ``index`` without reading its frames."""

    @abc.abstractmethod
    def read_windows(self, indices, starts, window_frames: int, out) -> None:
        """Copy ``window_frames`` frames from each start of each track into ``out``."""


class BatchStep(abc.ABC):
    """A frame-local step applied in place to many windows at once.

    ``step(windows, owners)``: ``windows`` is a float32 ``torch.Tensor [shape=(n_excerpts,
    n_mels, n_frames)]`` (any memory layout), ``owners`` the track of each excerpt.
    """

    #: The step raises on NaN or infinite values (a finiteness check).
    checks_finite: bool = False
    #: The step keeps NaN and inf where they are (a fitted scaling): a later check then
    #: finds the same values in the same track, so an earlier check can be skipped.
    keeps_nonfinite: bool = False
    #: For checks: the band count they expect (None: any).
    n_mels = None

    @abc.abstractmethod
    def __call__(self, windows: torch.Tensor, owners) -> None:
        """Apply the step to ``windows`` in place."""


class LazyTracks(Sequence):
    """A sequence of tracks computed (loaded, checked, transformed) only when accessed.

    Indexing with an int returns ``transform(source[i], i)``; indexing with a slice, an
    index array or ``(indices, ...)`` (what scikit-learn's splitters use, thanks to
    ``shape``) returns another ``LazyTracks``.

    Parameters
    ----------
    source : sequence of np.ndarray [shape=(n_mels, n_frames_i)]
    transform : callable ``(track, index) -> track`` or None
    frame_local : bool, default=False
        The transform works frame by frame (a check, a fitted per-band scaling), so it
        may be applied to excerpts of a track instead of the whole track:
        :meth:`read_excerpts` then reads only the excerpts from a memory-mapped file.
    batch_transform : BatchStep or None, default=None
        The same frame-local transform for a whole batch of excerpts
        (:meth:`LazyWindows.read_batch`).
    """

    def __init__(self, source, transform=None, frame_local: bool = False,
                 batch_transform=None):
        self.source = source
        self.transform = transform
        self.frame_local = frame_local
        self.batch_transform = batch_transform

    def read_excerpts(self, index: int, cut):
        """Return ``cut(track)`` for track ``index``, transformed excerpt by excerpt.

        Parameters
        ----------
        index : int
        cut : callable ``(track) -> list of np.ndarray [shape=(n_mels, n_frames_j)]``
            Applied to the untransformed track when every transform down the chain is
            frame-local (only the excerpts are read from disk), else to the track.

        Returns
        -------
        excerpts : list of np.ndarray
        """
        if self.transform is None:
            if isinstance(self.source, LazyTracks):
                return self.source.read_excerpts(index, cut)
            return cut(self.source[index])
        if not self.frame_local:
            return cut(self[index])
        if isinstance(self.source, LazyTracks):
            excerpts = self.source.read_excerpts(index, cut)
        else:
            excerpts = cut(self.source[index])
        return [self.transform(excerpt, index) for excerpt in excerpts]

    @property
    def shape(self):
        """``(n_tracks,)``: one entry per track, so scikit-learn indexes it lazily."""
        return (len(self.source),)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        if isinstance(key, int | np.integer):
            track = self.source[int(key)]
            return track if self.transform is None else self.transform(track, int(key))
        return LazyTracks(subset_tracks(self.source, key), self.transform, self.frame_local,
                          self.batch_transform)

    def __repr__(self):
        return f"LazyTracks({len(self)} tracks)"


def subset_tracks(source, key):
    """Return ``source`` restricted to ``key`` (slice, bool mask or index array), lazily
    when ``source`` supports it."""
    if isinstance(key, slice):
        key = np.arange(len(source))[key]
    key = np.asarray(key)
    if key.dtype == bool:
        key = np.flatnonzero(key)
    if isinstance(source, LazyTracks) or hasattr(source, "shape") and \
            not isinstance(source, np.ndarray):
        return source[key]
    return [source[int(i)] for i in key]


def without_repeated_checks(steps: list) -> list:
    """``steps`` (batch steps, in order) without a finiteness check that a later one repeats.

    Between two checks, a step that keeps NaN and inf where they are (a fitted scaling)
    changes nothing the later check would see: one pass over the batch instead of two.
    An earlier check that expects another band count than the later one stays.
    """
    kept, later_check = [], None
    for step in reversed(steps):
        if step.checks_finite:
            if later_check is not None and step.n_mels in (None, later_check.n_mels):
                continue
            later_check = step
        elif not step.keeps_nonfinite:
            later_check = None
        kept.append(step)
    return kept[::-1]


class _ShortTrack(Exception):
    pass


class LazyWindows(LazyTracks):
    """The windows of each track, cut only when the track is read.

    Indexing with an int loads one track and returns its windows ``(n_windows, n_mels,
    window_frames)``. With ``random=True`` every read draws new window offsets from
    torch's RNG (seeded fits stay reproducible, DataLoader workers included): each epoch
    sees other windows of every track.

    Parameters
    ----------
    source : sequence of np.ndarray [shape=(n_mels, n_frames_i)]
    windower : MelWindower
        Gives ``window_frames``, the even window starts and the padding of short tracks.
    random : bool, default=False
    n_windows : int or None, default=None
        Windows per track; None takes the windower's ``n_windows``.
    """

    def __init__(self, source, windower, random: bool = False, n_windows=None):
        super().__init__(source, None)
        self.windower = windower
        self.random = random
        self.n_windows = windower.n_windows if n_windows is None else int(n_windows)

    def __getitem__(self, key):
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]
        if isinstance(key, int | np.integer):
            return self._read(int(key))
        return LazyWindows(subset_tracks(self.source, key), self.windower, self.random,
                           self.n_windows)

    def _starts(self, n_frames: int) -> np.ndarray:
        if self.random:
            return torch.randint(0, n_frames - self.windower.window_frames + 1,
                                 (self.n_windows,)).numpy()
        return window_starts(n_frames, self.n_windows, self.windower.window_frames)

    def _batch_plan(self):
        """``(files, steps)`` when every step down to the files can work on a batch of
        windows (frame-local, with a batch form), else None."""
        steps, source = [], self.source
        while isinstance(source, LazyTracks):
            if source.transform is not None:
                if not source.frame_local or source.batch_transform is None:
                    return None
                steps.append(source.batch_transform)
            source = source.source
        if not isinstance(source, WindowFiles):
            return None
        return source, without_repeated_checks(steps[::-1])

    def read_batch(self, indices=None, *, allocate=None) -> torch.Tensor:
        """Return the windows of several tracks as one float32 tensor.

        Equal to stacking ``self[i]`` for ``i`` in ``indices`` (same values, same random
        offsets drawn in the same order), but when the tracks come from
        :class:`WindowFiles` through frame-local steps (checks, a fitted
        :class:`~sklearn_genre.MelNormalizer`), each window is copied once from its file
        into the batch and every step runs once on the whole batch.

        Parameters
        ----------
        indices : array-like of int [shape=(n,)] or None
            Tracks to read (all when None).
        allocate : callable ``(numel) -> torch.Tensor [shape=(>= numel,), \
dtype=float32]`` or None
            Memory to write the batch into (reused buffers); fresh memory by default.

        Returns
        -------
        windows : torch.Tensor [shape=(n, n_windows, n_mels, window_frames), \
dtype=float32]
            From a time-major copy (:func:`~sklearn_genre.datasets.to_time_major`) a
            transposed view of time-major memory (the network reads it as it is).
        """
        indices = (np.arange(len(self)) if indices is None
                   else np.asarray(indices, dtype=np.int64).reshape(-1))
        plan = self._batch_plan() if len(indices) else None
        if plan is None:
            tracks = [self._read(int(i)) for i in indices]
            shape = (len(indices),) + (tracks[0].shape if tracks else (0, 0, 0))
            out = empty_batch(shape, time_major=False, allocate=allocate)
            for row, track in zip(out, tracks):
                row.copy_(torch.from_numpy(track))
            return out
        files, steps = plan
        n_windows, n_frames = self.n_windows, self.windower.window_frames
        n_mels = files.track_shape(int(indices[0]))[0]
        out = empty_batch((len(indices), n_windows, n_mels, n_frames), files.time_major,
                          allocate)
        # every track's offsets first (in order: the same random draws as track by
        # track), then one read of the whole batch
        short, rows, starts = [], [], []
        for row, index in enumerate(indices):
            length = files.track_shape(int(index))[1]
            if length < n_frames:
                short.append((row, self._read(int(index))))  # padded: read whole, now
                out[row].zero_()  # the batch steps below must see finite values
            else:
                rows.append(row)
                starts.append(self._starts(length))
        files.read_windows([int(indices[row]) for row in rows], starts, n_frames,
                           [out[row] for row in rows])
        flat = out.flatten(0, 1)
        owners = np.repeat(indices, n_windows)
        for step in steps:
            step(flat, owners)
        for row, windows in short:
            out[row].copy_(torch.from_numpy(windows))
        return out

    def _cut(self, track) -> np.ndarray:
        """Windows ``(n_windows, n_mels, window_frames)`` of one (padded) track, float32."""
        return self.windower._cut(track, self._starts)

    def _read(self, index: int) -> np.ndarray:
        window_frames = self.windower.window_frames

        def cut_long(track):
            if track.shape[1] < window_frames:
                raise _ShortTrack  # padding depends on the transformed track
            return [track[:, start:start + window_frames]
                    for start in self._starts(track.shape[1])]

        if isinstance(self.source, LazyTracks):
            try:
                return np.stack(self.source.read_excerpts(index, cut_long)
                                ).astype(np.float32, copy=False)
            except _ShortTrack:
                pass
        return self._cut(self.source[index])

    def __repr__(self):
        kind = "random" if self.random else "evenly spread"
        return (f"LazyWindows({len(self)} tracks x {self.n_windows} {kind} windows "
                f"of {self.windower.window_frames} frames)")
