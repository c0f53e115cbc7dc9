"""Transformers that trim, normalize and window mel-spectrograms, one row per track.

Every transformer here takes the package's container (see :mod:`sklearn_genre._validation`):
a dense ``(n_tracks, n_mels, n_frames)`` array or a list of ``(n_mels, n_frames_i)`` arrays,
and never turns windows into rows, so scikit-learn's splitters stay at track level.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._arrays import as_float32
from ._lazy import BatchStep, LazyTracks, LazyWindows, window_starts
from ._validation import check_spectrograms

__all__ = ["LazyWindows", "MelTrimmer", "MelNormalizer", "MelWindower", "window_starts"]

_PAD_MODES = {"constant", "edge", "wrap", "reflect"}


def _spectrogram_tags(tags, *, stateless: bool):
    tags.input_tags.two_d_array = False
    tags.input_tags.three_d_array = True
    tags.input_tags.allow_nan = False
    tags.requires_fit = not stateless
    return tags


def _pad_frames(track: np.ndarray, n_frames: int, *, mode: str, value, where: str):
    """Pad ``track`` (n_mels, n_frames_i) along time to ``n_frames`` frames."""
    missing = n_frames - track.shape[1]
    if missing <= 0:
        return track
    before = missing // 2 if where == "center" else 0
    after = missing - before
    if mode == "constant":
        fill = float(track.min()) if value == "min" else float(value)
        return np.pad(track, ((0, 0), (before, after)), mode="constant", constant_values=fill)
    if mode == "reflect" and track.shape[1] == 1:
        mode = "edge"  # reflect needs at least two frames
    if mode == "reflect":
        # numpy's reflect cannot pad more than the length at once: repeat until long enough
        out = track
        while out.shape[1] < n_frames:
            out = np.concatenate([out, out[:, ::-1]], axis=1)
        return np.roll(out, before, axis=1)[:, :n_frames] if before else out[:, :n_frames]
    return np.pad(track, ((0, 0), (before, after)), mode=mode)


class _StatelessSpectrogramTransformer(TransformerMixin, BaseEstimator):
    """Base of the transformers whose ``fit`` only checks ``X`` and records ``n_mels_``."""

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and remember its number of mel bands.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
        y : ignored

        Returns
        -------
        self : estimator
        """
        X = check_spectrograms(X, estimator_name=type(self).__name__)
        self.n_mels_ = X[0].shape[0]
        return self

    def __sklearn_tags__(self):
        return _spectrogram_tags(super().__sklearn_tags__(), stateless=True)


class MelTrimmer(_StatelessSpectrogramTransformer):
    """Crop or pad every track to a fixed number of frames.

    The default reproduces the original project, which kept the first 1400 frames
    (about 30 s at 46.9 frames/s) of every track.

    Parameters
    ----------
    n_frames : int, default=1400
        Number of frames of every output track.
    offset : {"start", "center", "end"} or int, default="start"
        Where the crop starts: the first frame, the middle of the track, the last
        ``n_frames`` frames, or an integer start frame (clipped so that the crop stays
        inside the track).
    pad_mode : {"constant", "edge", "wrap", "reflect"}, default="constant"
        How tracks shorter than ``n_frames`` are extended. ``"constant"`` fills with
        ``pad_value``; ``"wrap"`` loops the track; ``"edge"`` repeats the last frame;
        ``"reflect"`` mirrors the track. Padding goes after the track, or on both sides
        when ``offset="center"``.
    pad_value : float or "min", default="min"
        Fill value for ``pad_mode="constant"``. ``"min"`` uses the track's own minimum,
        i.e. its silence floor in dB, so that padding sounds like silence.

    Attributes
    ----------
    n_mels_ : int
        Number of mel bands seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import MelTrimmer
    >>> tracks = [np.zeros((96, 3000)), np.zeros((96, 500))]
    >>> MelTrimmer(n_frames=1400).fit_transform(tracks).shape
    (2, 96, 1400)
    """

    _parameter_constraints = {
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "offset": [StrOptions({"start", "center", "end"}), Interval(Integral, 0, None,
                                                                    closed="left")],
        "pad_mode": [StrOptions(_PAD_MODES)],
        "pad_value": [StrOptions({"min"}), Real],
    }

    def __init__(self, n_frames=1400, *, offset="start", pad_mode="constant", pad_value="min"):
        self.n_frames = n_frames
        self.offset = offset
        self.pad_mode = pad_mode
        self.pad_value = pad_value

    def _start(self, length: int) -> int:
        if length <= self.n_frames:
            return 0
        if self.offset == "start":
            return 0
        if self.offset == "center":
            return (length - self.n_frames) // 2
        if self.offset == "end":
            return length - self.n_frames
        return min(int(self.offset), length - self.n_frames)

    def transform(self, X):
        """Return every track cropped or padded to ``n_frames`` frames.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames_in)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]

        Returns
        -------
        X_trimmed : np.ndarray [shape=(n_tracks, n_mels, n_frames), dtype=float32]
        """
        self._validate_params()
        X = check_spectrograms(X, n_mels=getattr(self, "n_mels_", None),
                               estimator_name=type(self).__name__)
        where = "center" if self.offset == "center" else "end"
        out = np.empty((len(X), X[0].shape[0], self.n_frames), dtype=np.float32)
        for i, track in enumerate(X):
            start = self._start(track.shape[1])
            crop = track[:, start:start + self.n_frames]
            out[i] = _pad_frames(crop, self.n_frames, mode=self.pad_mode,
                                 value=self.pad_value, where=where)
        return out


class MelNormalizer(TransformerMixin, BaseEstimator):
    """Standardize mel-spectrograms (zero mean, unit variance).

    Parameters
    ----------
    scope : {"band", "global", "track", "track_band"}, default="band"
        ``"band"`` learns one mean and standard deviation per mel band in ``fit``
        (on the training fold only) and applies them; ``"global"`` learns a single
        mean and standard deviation; ``"track"`` standardizes each track with its own
        mean and standard deviation (stateless); ``"track_band"`` does so per band of
        each track, which also removes each track's average spectral envelope.
    eps : float, default=1e-6
        Standard deviations below ``eps`` are treated as 1 (constant bands stay finite).
    max_fit_tracks : int or None, default=None
        ``"band"`` and ``"global"``: learn the statistics from at most this many tracks,
        evenly spaced through ``X`` (None: all). On a dump larger than memory a full
        pass costs as much as a training epoch; a few hundred tracks are plenty for 96
        means and standard deviations.

    Attributes
    ----------
    mean_ : np.ndarray [shape=(n_mels, 1)] or None
        Learned means (``"band"``: one per band; ``"global"``: the same value in every
        row); None for the per-track scopes.
    scale_ : np.ndarray [shape=(n_mels, 1)] or None
        Learned standard deviations, as ``mean_``.
    n_mels_ : int
        Number of mel bands seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import MelNormalizer
    >>> rng = np.random.default_rng(0)
    >>> tracks = [rng.normal(-40, 10, (96, 300)), rng.normal(-40, 10, (96, 120))]
    >>> out = MelNormalizer().fit_transform(tracks)   # ragged in, ragged out
    >>> [t.shape for t in out]
    [(96, 300), (96, 120)]
    """

    _parameter_constraints = {
        "scope": [StrOptions({"band", "global", "track", "track_band"})],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "max_fit_tracks": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, scope="band", *, eps=1e-6, max_fit_tracks=None):
        self.scope = scope
        self.eps = eps
        self.max_fit_tracks = max_fit_tracks

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the normalization statistics from the training tracks.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
        y : ignored

        Returns
        -------
        self : MelNormalizer
        """
        X = check_spectrograms(X, estimator_name=type(self).__name__)
        n_mels = X[0].shape[0]
        self.n_mels_ = n_mels
        if self.scope in ("track", "track_band"):
            self.mean_ = None
            self.scale_ = None
            return self
        # Streaming sums in float64: works on lazily loaded tracks without stacking them.
        total = np.zeros(n_mels)
        total_sq = np.zeros(n_mels)
        count = 0
        rows = range(len(X))
        if self.max_fit_tracks is not None and len(X) > self.max_fit_tracks:
            rows = np.linspace(0, len(X) - 1, self.max_fit_tracks).round().astype(int)
        for i in rows:
            track = np.asarray(X[int(i)], dtype=np.float64)
            total += track.sum(axis=1)
            total_sq += np.square(track).sum(axis=1)
            count += track.shape[1]
        if self.scope == "global":
            total = np.full(n_mels, total.sum() / n_mels)
            total_sq = np.full(n_mels, total_sq.sum() / n_mels)
        mean = total / count
        var = np.maximum(total_sq / count - np.square(mean), 0.0)
        scale = np.sqrt(var)
        scale[scale < self.eps] = 1.0
        self.mean_ = mean.astype(np.float32)[:, np.newaxis]
        self.scale_ = scale.astype(np.float32)[:, np.newaxis]
        return self

    def _normalize(self, track: np.ndarray, index=None) -> np.ndarray:
        if self.scope == "track":
            mean, scale = track.mean(), track.std()
        elif self.scope == "track_band":
            mean = track.mean(axis=1, keepdims=True)
            scale = track.std(axis=1, keepdims=True)
        else:
            mean, scale = self.mean_, self.scale_
        scale = np.where(scale < self.eps, 1.0, scale)
        out = np.subtract(track, mean, dtype=np.float32) if track.dtype != np.float64 \
            else (track - mean).astype(np.float32)
        out /= scale.astype(np.float32, copy=False)
        return out


    def transform(self, X):
        """Return the standardized tracks, in the container they came in.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]

        Returns
        -------
        X_normalized : np.ndarray [shape=(n_tracks, n_mels, n_frames), dtype=float32] or \
list of np.ndarray [shape=(n_mels, n_frames_i), dtype=float32]
            A lazily loaded input (e.g. from ``load_mtg_jamendo``) gives a lazy
            :class:`~sklearn_genre._validation.LazyTracks`, normalized track by track.
        """
        check_is_fitted(self)
        X = check_spectrograms(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)
        if isinstance(X, np.ndarray):
            if self.scope in ("band", "global"):
                return ((X - self.mean_) / self.scale_).astype(np.float32, copy=False)
            return np.stack([self._normalize(track) for track in X])
        if isinstance(X, LazyTracks):  # streamed: each track normalized when read
            # fitted per-band statistics work frame by frame: windows cut from a lazy
            # dump afterwards only read their own frames from disk
            fitted = self.scope in ("band", "global")
            return LazyTracks(X, self._normalize, frame_local=fitted,
                              batch_transform=_BatchScale(self) if fitted else None)
        return [self._normalize(track) for track in X]

    def __sklearn_tags__(self):
        return _spectrogram_tags(super().__sklearn_tags__(), stateless=False)


class _BatchScale(BatchStep):
    """A fitted :class:`MelNormalizer` in place on float32 excerpts ``(n, n_mels,
    n_frames)``: the same float32 operations as its track-by-track form, so the same
    values; NaN and inf stay where they are."""

    keeps_nonfinite = True

    def __init__(self, normalizer):
        self.mean = torch.from_numpy(normalizer.mean_)
        scale = normalizer.scale_
        self.scale = torch.from_numpy(np.where(scale < normalizer.eps, 1.0, scale).astype(
            np.float32))

    def __call__(self, windows: torch.Tensor, owners=None) -> None:
        windows.sub_(self.mean).div_(self.scale)


class MelWindower(_StatelessSpectrogramTransformer):
    """Cut each track into windows spread evenly over the whole track.

    A model then sees a whole track of any length, while each track stays one row:
    the output is 4-D, ``(n_tracks, n_windows, n_mels, window_frames)``.

    Parameters
    ----------
    n_windows : int, default=8
        Number of windows per track.
    window_frames : int, default=256
        Frames per window (256 frames are about 5.5 s at 46.9 frames/s).
    pad_mode : {"constant", "edge", "wrap", "reflect"}, default="constant"
        How a track shorter than one window is extended (see :class:`MelTrimmer`).
    pad_value : float or "min", default="min"
        Fill value for ``pad_mode="constant"``; ``"min"`` is the track's minimum.
    train_offsets : {"even", "random"}, default="even"
        ``"random"``: ``fit_transform`` (what a Pipeline's ``fit`` calls) returns
        :class:`LazyWindows` that draw new random window offsets at every read, so the
        classifier trains on other windows of each track every epoch (augmentation);
        ``transform`` (prediction) always spreads the windows evenly.
    train_windows : int or None, default=None
        Windows per track in ``fit_transform`` with ``train_offsets="random"`` (None:
        ``n_windows``): training can see a few random windows of every track per epoch
        while prediction pools more, evenly spread.

    Attributes
    ----------
    n_mels_ : int
        Number of mel bands seen in ``fit``.

    Notes
    -----
    Lazily loaded tracks (:class:`sklearn_genre.datasets.LazyMelList`, or the output of
    :class:`MelNormalizer` on them) give :class:`LazyWindows`, never a dense array: only
    the tracks of the current batch are in memory. See docs/scaling.md.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import MelWindower
    >>> tracks = [np.zeros((96, 10000)), np.zeros((96, 100))]
    >>> MelWindower(n_windows=4, window_frames=256).fit_transform(tracks).shape
    (2, 4, 96, 256)
    """

    _parameter_constraints = {
        "n_windows": [Interval(Integral, 1, None, closed="left")],
        "window_frames": [Interval(Integral, 1, None, closed="left")],
        "pad_mode": [StrOptions(_PAD_MODES)],
        "pad_value": [StrOptions({"min"}), Real],
        "train_offsets": [StrOptions({"even", "random"})],
        "train_windows": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_windows=8, window_frames=256, *, pad_mode="constant",
                 pad_value="min", train_offsets="even", train_windows=None):
        self.n_windows = n_windows
        self.window_frames = window_frames
        self.pad_mode = pad_mode
        self.pad_value = pad_value
        self.train_offsets = train_offsets
        self.train_windows = train_windows

    def window_starts(self, n_frames: int) -> np.ndarray:
        """Return the start frames of the windows of a track of ``n_frames`` frames.

        Returns
        -------
        starts : np.ndarray [shape=(n_windows,), dtype=int64]
        """
        return window_starts(n_frames, self.n_windows, self.window_frames)

    def transform(self, X):
        """Return the windows of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]

        Returns
        -------
        X_windows : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames), \
dtype=float32] or LazyWindows
            Lazy input gives :class:`LazyWindows` (windows cut when read).
        """
        self._validate_params()
        X = check_spectrograms(X, n_mels=getattr(self, "n_mels_", None),
                               estimator_name=type(self).__name__)
        if isinstance(X, LazyTracks):
            return LazyWindows(X, self)
        n_mels = X[0].shape[0]
        out = np.empty((len(X), self.n_windows, n_mels, self.window_frames), dtype=np.float32)
        for i, track in enumerate(X):
            out[i] = self._cut(track)
        return out

    def fit_transform(self, X, y=None):
        """Fit, then return windows: random ones, redrawn at every read, when
        ``train_offsets="random"``.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
        y : ignored

        Returns
        -------
        X_windows : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames)] \
or LazyWindows
        """
        self.fit(X)
        if self.train_offsets != "random":
            return self.transform(X)
        X = check_spectrograms(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)
        return LazyWindows(X, self, random=True, n_windows=self.train_windows)

    def pad(self, track: np.ndarray) -> np.ndarray:
        """Return ``track`` (n_mels, n_frames) padded to at least one window."""
        return _pad_frames(track, self.window_frames, mode=self.pad_mode,
                           value=self.pad_value, where="end")

    def _cut(self, track, starts_for=None) -> np.ndarray:
        """Windows ``(n_windows, n_mels, window_frames)`` of one track, float32;
        ``starts_for(n_frames)`` gives the starts (default :meth:`window_starts`)."""
        track = self.pad(track)
        starts = (starts_for or self.window_starts)(track.shape[1])
        return as_float32(np.stack([track[:, start:start + self.window_frames]
                                    for start in starts]))
