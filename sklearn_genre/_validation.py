"""The one place where spectrogram input is checked.

Every estimator of the package calls :func:`check_spectrograms` (or
:func:`check_windows` for the classifier) at the start of ``fit``,
``transform`` and ``predict``. The container convention follows tslearn:
time is the last axis, axis 0 is always the track.

Accepted containers
-------------------
* a dense array ``np.ndarray [shape=(n_tracks, n_mels, n_frames)]``;
* a sequence (list, tuple, lazily loading sequence) of 2-D arrays
  ``np.ndarray [shape=(n_mels, n_frames_i)]`` whose lengths may differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from numbers import Integral

import numpy as np
import torch

from ._arrays import as_float32
from ._lazy import BatchStep, LazyTracks, LazyWindows
from .exceptions import SpectrogramError

__all__ = ["BatchCheck", "check_spectrograms", "check_windows", "n_tracks_of", "is_ragged"]


def n_mels_of(windows) -> int:
    """Mel bands of checked windows: a 4-D array, or a lazy sequence of 3-D ones."""
    return windows.shape[2] if isinstance(windows, np.ndarray) else windows[0].shape[1]


def n_tracks_of(X) -> int:
    """Return the number of tracks of a spectrogram container."""
    try:
        return len(X)
    except TypeError as exc:
        raise SpectrogramError(
            f"X must be a 3-D array (n_tracks, n_mels, n_frames) or a list of 2-D arrays "
            f"(n_mels, n_frames), got an object of type {type(X).__name__}."
        ) from exc


def is_ragged(X) -> bool:
    """Return True when ``X`` is a sequence of tracks rather than one dense array."""
    return not isinstance(X, np.ndarray)


def _as_float_track(track, index: int, dtype) -> np.ndarray:
    if isinstance(track, str | bytes):
        raise SpectrogramError(
            f"track {index} is a string ({track!r:.40}); expected a 2-D numeric array "
            "(n_mels, n_frames). To read audio or .npy files use MelSpectrogram or a loader."
        )
    if hasattr(track, "detach"):  # torch tensor
        track = track.detach().cpu().numpy()
    try:
        arr = np.asarray(track)
    except ValueError as exc:  # ragged nested lists
        raise SpectrogramError(
            f"track {index} cannot be converted to a 2-D array: {exc}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise SpectrogramError(
            f"track {index} has dtype {arr.dtype}; expected a real numeric (float) array "
            "of dB values."
        )
    if arr.ndim != 2:
        raise SpectrogramError(
            f"track {index} has shape {arr.shape}; expected a 2-D array (n_mels, n_frames)."
        )
    return _cast(arr, dtype, f"track {index}")


def _cast(arr: np.ndarray, dtype, what: str) -> np.ndarray:
    """Cast to ``dtype``, refusing values that the cast would turn into infinities.

    Widening float casts are exact (the caller's finiteness check follows); float16 to
    float32 goes through torch, whose conversion is vectorized (numpy's is 2x slower)
    and writes C order even from a transposed view (time-major dumps).
    """
    if dtype is None or arr.dtype == dtype:
        return arr
    target = np.dtype(dtype)
    if arr.dtype.kind == "f" and target.kind == "f" and target.itemsize > arr.dtype.itemsize:
        return as_float32(arr) if target == np.float32 else arr.astype(target)
    _check_finite(arr, what)
    out = arr.astype(dtype)
    if out.dtype.kind == "f" and not _all_finite(out):
        raise SpectrogramError(
            f"{what} has values too large for {np.dtype(dtype).name} (max |value| "
            f"{float(np.abs(arr).max()):.3g}); mel-spectrograms in dB are within +-1000."
        )
    return out


def _all_finite(arr: np.ndarray) -> bool:
    """Whether every value is finite; a sum propagates NaN and inf (2x faster test).

    float16 sums overflow on dB values and numpy's float16 arithmetic is slow: there,
    the largest exponent field tells (all ones only for NaN and inf; 5x faster).
    """
    if arr.dtype == np.float16:
        return arr.size == 0 or int(np.bitwise_and(arr.view(np.uint16), 0x7C00).max()) != 0x7C00
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return True
    return bool(np.isfinite(arr).all())  # the sum may overflow on finite values


def _check_finite(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f" and not _all_finite(arr):
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise SpectrogramError(
            f"{what} contains {n_nan} NaN and {n_inf} infinite values; spectrograms must be "
            "finite (convert power to dB with a floor, e.g. librosa.power_to_db)."
        )


def _check_n_mels(found: int, expected: int | None, reference: int | None, what: str,
                  estimator_name: str | None) -> None:
    if reference is not None and found != reference:
        raise SpectrogramError(
            f"{what} has {found} mel bands but track 0 has {reference}; all tracks must have "
            "the same number of mel bands."
        )
    if expected is not None and found != expected:
        who = estimator_name or "the estimator"
        raise SpectrogramError(
            f"{what} has {found} mel bands, but {who} was fitted with {expected}."
        )


def check_spectrograms(
    X,
    *,
    n_mels: int | None = None,
    dtype=np.float32,
    min_frames: int = 1,
    estimator_name: str | None = None,
):
    """Validate a container of mel-spectrograms, one per track.

    Parameters
    ----------
    X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or sequence of \
np.ndarray [shape=(n_mels, n_frames_i)]
        Mel-spectrograms in dB. A sequence may hold tracks of different lengths.
    n_mels : int or None, default=None
        Number of mel bands the caller was fitted with; None accepts any.
    dtype : numpy dtype or None, default=np.float32
        Floating type of the returned arrays; None keeps the input's.
    min_frames : int, default=1
        Minimum number of frames per track.
    estimator_name : str or None
        Used in error messages.

    Returns
    -------
    X_checked : np.ndarray [shape=(n_tracks, n_mels, n_frames)], list or LazyTracks of \
np.ndarray [shape=(n_mels, n_frames_i)]
        A dense array stays dense; a list or tuple becomes a list of checked arrays; any
        other sequence (a lazily loading one) becomes :class:`LazyTracks`, whose tracks
        are checked when they are read (track 0 is checked at once).

    Raises
    ------
    SpectrogramError
        A ``ValueError`` naming the problem and the track index: not numeric, not
        finite, empty, not 2-D per track, or mismatching ``n_mels``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import check_spectrograms
    >>> tracks = [np.zeros((96, 100)), np.zeros((96, 250))]
    >>> [t.shape for t in check_spectrograms(tracks)]
    [(96, 100), (96, 250)]
    >>> check_spectrograms(np.zeros((2, 96, 10))).dtype
    dtype('float32')
    """
    if isinstance(X, str | bytes):
        raise SpectrogramError(
            f"X is a string ({X!r:.40}); expected spectrograms. Load files first "
            "(sklearn_genre.MelSpectrogram for audio, sklearn_genre.datasets for .npy dumps)."
        )
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim != 3:
            hint = ""
            if X.ndim == 2:
                hint = (" A single track (n_mels, n_frames) must be wrapped as X[np.newaxis] "
                        "or [track].")
            elif X.ndim == 4:
                hint = " 4-D windows (n_tracks, n_windows, n_mels, window_frames) are only " \
                       "accepted by the classifier."
            raise SpectrogramError(
                f"X has shape {X.shape}; expected a 3-D array (n_tracks, n_mels, n_frames) "
                f"or a list of 2-D arrays (n_mels, n_frames).{hint}"
            )
        if X.shape[0] == 0:
            raise SpectrogramError("X contains no tracks (n_tracks == 0).")
        if X.dtype.kind not in "biuf":
            raise SpectrogramError(
                f"X has dtype {X.dtype}; expected a real numeric (float) array of dB values."
            )
        if X.shape[2] < min_frames:
            raise SpectrogramError(
                f"X has {X.shape[2]} frames per track; at least {min_frames} are required "
                "(track 0 is empty)." if X.shape[2] == 0 else
                f"X has {X.shape[2]} frames per track; at least {min_frames} are required."
            )
        if X.shape[1] == 0:
            raise SpectrogramError("X has 0 mel bands (track 0 is empty).")
        _check_n_mels(X.shape[1], n_mels, None, "X", estimator_name)
        if X.dtype.kind == "f" and not _all_finite(X):
            bad = int(np.flatnonzero(~np.isfinite(X).reshape(len(X), -1).all(axis=1))[0])
            _check_finite(X[bad], f"track {bad}")
        return _cast(X, dtype, "X")

    if not isinstance(X, Sequence) and not hasattr(X, "__getitem__"):
        n_tracks_of(X)  # raises with a clear message for non-containers
    n_tracks = n_tracks_of(X)
    if n_tracks == 0:
        raise SpectrogramError("X contains no tracks (n_tracks == 0).")
    first = _check_track(X[0], 0, dtype=dtype, n_mels=n_mels, reference=None,
                         min_frames=min_frames, estimator_name=estimator_name)
    check = partial(_check_track, dtype=dtype, n_mels=n_mels, reference=first.shape[0],
                    min_frames=min_frames, estimator_name=estimator_name)
    if not isinstance(X, list | tuple | np.ndarray):
        # lazy container: each track is checked when it is read, nothing is held
        frame_local = min_frames <= 1
        batch_check = BatchCheck(n_mels=n_mels, reference=first.shape[0],
                                 estimator_name=estimator_name) if frame_local else None
        return LazyTracks(X, check, frame_local=frame_local, batch_transform=batch_check)
    return [first] + [check(X[index], index) for index in range(1, n_tracks)]


def _check_track(track, index, *, dtype, n_mels, reference, min_frames, estimator_name):
    """Check one track (see check_spectrograms) and return it as an array."""
    arr = _as_float_track(track, index, dtype)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise SpectrogramError(
            f"track {index} is empty: shape {arr.shape}; expected (n_mels, n_frames) with "
            "at least one mel band and one frame."
        )
    if arr.shape[1] < min_frames:
        raise SpectrogramError(
            f"track {index} has {arr.shape[1]} frames; at least {min_frames} are required."
        )
    _check_n_mels(arr.shape[0], n_mels, reference, f"track {index}", estimator_name)
    _check_finite(arr, f"track {index}")
    return arr


class BatchCheck(BatchStep):
    """Batch form of :func:`_check_track` for excerpts of checked-length tracks: band
    count and finiteness, errors naming the track."""

    checks_finite = True

    def __init__(self, *, n_mels, reference, estimator_name):
        self.n_mels = n_mels
        self.reference = reference
        self.estimator_name = estimator_name

    def __call__(self, windows: torch.Tensor, owners) -> None:
        _check_n_mels(windows.shape[1], self.n_mels, self.reference,
                      f"track {int(owners[0])}", self.estimator_name)
        if windows.numel() and torch.isfinite(windows.sum()):
            return  # a sum propagates NaN and inf (overflow of finite values: checked below)
        finite = torch.isfinite(windows).flatten(1).all(dim=1)
        if not bool(finite.all()):
            bad = int(torch.nonzero(~finite)[0, 0])
            _check_finite(windows[bad].numpy(), f"track {int(owners[bad])}")


def check_windows(X, *, n_mels: int | None = None, dtype=None, estimator_name=None):
    """Validate classifier input: 3-D tracks or 4-D windowed tracks.

    Parameters
    ----------
    X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)]
        Fixed-size tracks (after :class:`~sklearn_genre.MelTrimmer`) or windows (after
        :class:`~sklearn_genre.MelWindower`).
    n_mels : int or None
        Number of mel bands seen in ``fit``.
    dtype : numpy dtype or None, default=None
        None keeps float16/float32 input as it is and casts anything else to float32.

    Returns
    -------
    X_checked : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames)] \
or LazyWindows
        Always 4-D: 3-D input becomes one window per track.
        :class:`~sklearn_genre.transformers.LazyWindows` stay lazy (their windows are
        checked when read; track 0 is read now).
    """
    if isinstance(X, LazyWindows):  # stays lazy
        if len(X) == 0:
            raise SpectrogramError("X holds no tracks.")
        _check_n_mels(X[0].shape[1], n_mels, None, "X", estimator_name)
        return X
    if not isinstance(X, np.ndarray) or X.dtype == object:
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        else:
            tracks = check_spectrograms(X, n_mels=n_mels, dtype=None,
                                        estimator_name=estimator_name)
            lengths = {t.shape[1] for t in tracks}
            if len(lengths) > 1:
                raise SpectrogramError(
                    f"X holds tracks of different lengths ({min(lengths)} to {max(lengths)} "
                    "frames); the classifier needs fixed-size input. Put MelTrimmer or "
                    "MelWindower before it in the Pipeline."
                )
            X = np.stack(tracks)
    if X.ndim == 3:
        X = check_spectrograms(X, n_mels=n_mels, dtype=dtype,
                               estimator_name=estimator_name)[:, np.newaxis]
    elif X.ndim == 4:
        if 0 in X.shape:
            raise SpectrogramError(
                f"X has shape {X.shape}; no dimension of (n_tracks, n_windows, n_mels, "
                "window_frames) may be 0."
            )
        if X.dtype.kind not in "biuf":
            raise SpectrogramError(f"X has dtype {X.dtype}; expected a float array.")
        _check_n_mels(X.shape[2], n_mels, None, "X", estimator_name)
        if not _all_finite(X):
            bad = int(np.flatnonzero(~np.isfinite(X).reshape(len(X), -1).all(axis=1))[0])
            _check_finite(X[bad], f"track {bad}")
    else:
        raise SpectrogramError(
            f"X has shape {X.shape}; the classifier expects 3-D tracks (n_tracks, n_mels, "
            "n_frames) or 4-D windows (n_tracks, n_windows, n_mels, window_frames)."
        )
    if dtype is not None:
        return _cast(X, dtype, "X")
    if X.dtype not in (np.float16, np.float32):
        return _cast(X, np.float32, "X")
    return X


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)
