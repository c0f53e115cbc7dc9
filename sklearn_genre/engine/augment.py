"""Training-time augmentation of window batches: one implementation, seeded by torch's RNG.

Every function takes a float32 batch ``(batch, n_windows, n_mels, n_frames)`` of
normalized mels (the network's input) and draws its random numbers from torch's global
generator, which a seeded fit seeds: the same ``random_state`` gives the same draws.
Magnitudes are in the units of the network input (standard deviations after a fitted
:class:`~sklearn_genre.MelNormalizer`), not in dB.

- :func:`random_crops`: a random excerpt of ``crop_frames`` frames of every window;
- :class:`Augment`: time and frequency masks (SpecAugment, Park et al. 2019), a random
  gain and spectral tilt (EQ), a pitch shift in semitones (:func:`transpose_mels`: the
  mel axis resampled at the shifted band frequencies) or by whole mel bands, a time
  stretch by frame resampling (tempo), each drawn per window;
- :func:`mixup`: convex combinations of pairs of tracks and of their targets
  (Zhang et al. 2018), applied by the estimators in the training step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

__all__ = ["Augment", "mel_band_frequencies", "mixup", "random_crops", "transpose_mels"]


def random_crops(windows: torch.Tensor, crop_frames: int) -> torch.Tensor:
    """Return a random excerpt of ``crop_frames`` frames of every window.

    Parameters
    ----------
    windows : torch.Tensor [shape=(batch, n_windows, n_mels, n_frames)]
    crop_frames : int
        Windows not longer than this are returned as they are.

    Returns
    -------
    crops : torch.Tensor [shape=(batch, n_windows, n_mels, min(crop_frames, n_frames))]
        Offsets drawn from torch's generator, window by window in batch order.

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.engine import random_crops
    >>> random_crops(torch.zeros(2, 3, 96, 128), 100).shape
    torch.Size([2, 3, 96, 100])
    """
    n, n_windows, n_mels, n_frames = windows.shape
    if n_frames <= crop_frames:
        return windows
    starts = torch.randint(0, n_frames - crop_frames + 1, (n * n_windows,))
    index = (starts[:, None] + torch.arange(crop_frames)).view(n, n_windows, 1, crop_frames)
    return torch.gather(windows, 3, index.expand(n, n_windows, n_mels, crop_frames))


def _uniform(shape, low, high):
    return low + (high - low) * torch.rand(shape)


@dataclass
class Augment:
    """Random transformations of training windows (none applied at prediction).

    Each field is off at its default (0); the estimators take an ``Augment``, a dict of
    its fields, or None as ``augment=``.

    Parameters
    ----------
    time_masks : int, default=0
        Masks of up to ``time_mask_frames`` consecutive frames set to 0 (the mean after a
        fitted normalization), per window.
    time_mask_frames : int, default=16
    freq_masks : int, default=0
        Masks of up to ``freq_mask_bands`` consecutive mel bands set to 0, per window.
    freq_mask_bands : int, default=8
    gain : float, default=0.0
        A level offset drawn uniformly from ``[-gain, gain]`` per window, added to every
        value (a louder or quieter recording).
    tilt : float, default=0.0
        A spectral tilt (EQ): a linear ramp from ``-t`` at the lowest band to ``+t`` at
        the highest, ``t`` drawn from ``[-tilt, tilt]`` per window.
    band_shift : int, default=0
        A shift of the window by up to this many whole mel bands up or down (the edge band
        is repeated). On a mel axis a band is a different interval at each frequency
        (about a semitone near 500 Hz, half of one above 1 kHz on the MTG recipe's axis):
        ``pitch_shift`` is the transposition.
    pitch_shift : float, default=0.0
        A transposition by ``s`` semitones, ``s`` drawn uniformly from ``[-pitch_shift,
        pitch_shift]`` per window, by :func:`transpose_mels` (band ``i``, center ``f_i``,
        takes the value at ``f_i / 2 ** (s / 12)``) on a Slaney mel axis from ``fmin`` to
        ``fmax`` with the window's number of bands.
    fmin, fmax : float, default=0.0, 6000.0
        The mel axis of ``pitch_shift`` (the MTG-Jamendo recipe: 0-6000 Hz).
    stretch : float, default=0.0
        A time stretch by a factor drawn from ``[1 - stretch, 1 + stretch]`` per window
        (tempo): the window is resampled along time (linear interpolation) and cut or
        padded (edge frame) back to its length.
    mixup : float, default=0.0
        ``alpha`` of the Beta distribution of mixup weights; 0 turns it off. Applied by the
        estimator to whole tracks and their targets.

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.engine import Augment
    >>> augment = Augment(time_masks=2, freq_masks=2, gain=0.3)
    >>> augment(torch.randn(4, 2, 96, 128)).shape
    torch.Size([4, 2, 96, 128])
    """

    time_masks: int = 0
    time_mask_frames: int = 16
    freq_masks: int = 0
    freq_mask_bands: int = 8
    gain: float = 0.0
    tilt: float = 0.0
    band_shift: int = 0
    pitch_shift: float = 0.0
    stretch: float = 0.0
    mixup: float = 0.0
    fmin: float = 0.0
    fmax: float = 6000.0

    @classmethod
    def from_param(cls, value):
        """An ``Augment`` from the estimator parameter: None, a dict or an ``Augment``."""
        if value is None:
            return None
        if isinstance(value, Augment):
            return value
        if isinstance(value, dict):
            unknown = set(value) - set(asdict(cls()))
            if unknown:
                raise ValueError(f"augment has unknown entries {sorted(unknown)}; known: "
                                 f"{sorted(asdict(cls()))}.")
            return cls(**value)
        raise TypeError(f"augment must be None, a dict or an Augment, got "
                        f"{type(value).__name__}.")

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value < 0:
                raise ValueError(f"Augment.{name} must be >= 0, got {value!r}.")
        if self.stretch >= 1:
            raise ValueError(f"Augment.stretch must be below 1, got {self.stretch!r}.")
        if self.fmax <= self.fmin:
            raise ValueError(f"Augment.fmax must be above fmin, got fmin={self.fmin!r}, "
                             f"fmax={self.fmax!r}.")

    @property
    def active(self) -> bool:
        """Whether any per-window transformation is on (mixup aside)."""
        return any((self.time_masks, self.freq_masks, self.gain, self.tilt, self.band_shift,
                    self.pitch_shift, self.stretch))

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        """Return a transformed copy of ``windows``, shape ``(batch, n_windows, n_mels,
        n_frames)``."""
        if not self.active:
            return windows
        n, n_windows, n_mels, n_frames = windows.shape
        x = windows.reshape(n * n_windows, n_mels, n_frames).float().clone()
        count = x.shape[0]
        if self.stretch:
            x = _stretch(x, _uniform((count,), 1 - self.stretch, 1 + self.stretch))
        if self.band_shift:
            x = _shift_bands(x, torch.randint(-self.band_shift, self.band_shift + 1,
                                              (count,)))
        if self.pitch_shift:
            x = transpose_mels(x, _uniform((count,), -self.pitch_shift, self.pitch_shift),
                               self.fmin, self.fmax)
        if self.gain:
            x += _uniform((count, 1, 1), -self.gain, self.gain)
        if self.tilt:
            ramp = torch.linspace(-1.0, 1.0, n_mels).view(1, n_mels, 1)
            x += _uniform((count, 1, 1), -self.tilt, self.tilt) * ramp
        for _ in range(self.time_masks):
            _mask(x, 2, self.time_mask_frames)
        for _ in range(self.freq_masks):
            _mask(x, 1, self.freq_mask_bands)
        return x.view(n, n_windows, n_mels, n_frames)


def _mask(x: torch.Tensor, axis: int, max_width: int) -> None:
    """Zero one random span of up to ``max_width`` along ``axis`` of every row, in place."""
    size = x.shape[axis]
    widths = torch.randint(0, min(max_width, size) + 1, (x.shape[0],))
    starts = (torch.rand(x.shape[0]) * (size - widths + 1)).long()
    positions = torch.arange(size)
    inside = (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
    shape = (x.shape[0], size, 1) if axis == 1 else (x.shape[0], 1, size)
    x.masked_fill_(inside.view(shape), 0.0)


def _shift_bands(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Shift every row's bands by its own whole number of bands (edge band repeated)."""
    n_mels = x.shape[1]
    source = (torch.arange(n_mels)[None, :] - shifts[:, None]).clamp(0, n_mels - 1)
    return torch.gather(x, 1, source[:, :, None].expand(-1, -1, x.shape[2]))


def mel_band_frequencies(n_mels: int, fmin: float = 0.0, fmax: float = 6000.0):
    """Center frequencies in Hz of ``n_mels`` triangular bands on the Slaney mel scale.

    The formula of ``librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]``
    (linear below 1 kHz, logarithmic above), the centers of ``librosa.filters.mel``'s
    bands, computed here so that the engine needs only torch.

    Returns
    -------
    centers : torch.Tensor [shape=(n_mels,), dtype=float64]

    Examples
    --------
    >>> from sklearn_genre.engine import mel_band_frequencies
    >>> centers = mel_band_frequencies(96)
    >>> round(float(centers[0]), 1), round(float(centers[-1]), 1)
    (28.2, 5827.9)
    """
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = torch.log(torch.tensor(6.4, dtype=torch.float64)) / 27.0

    def to_mel(hz):
        hz = torch.as_tensor(hz, dtype=torch.float64)
        return torch.where(hz >= min_log_hz,
                           min_log_mel + torch.log(hz.clamp(min=min_log_hz) / min_log_hz)
                           / logstep, hz / f_sp)

    mels = torch.linspace(float(to_mel(fmin)), float(to_mel(fmax)), n_mels + 2,
                          dtype=torch.float64)[1:-1]
    return torch.where(mels >= min_log_mel,
                       min_log_hz * torch.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def transpose_mels(x: torch.Tensor, semitones, fmin: float = 0.0, fmax: float = 6000.0):
    """Transpose mel spectrograms by resampling their mel axis at shifted frequencies.

    Band ``i`` (center ``f_i`` on a Slaney mel axis from ``fmin`` to ``fmax``) takes the
    value at ``f_i / 2 ** (s / 12)``, interpolated linearly between the neighbouring
    bands' centers; the edge bands are repeated beyond the axis. Harmonics move with their
    fundamental, as in a pitch-shifted recording (the spectral envelope moves too).

    Parameters
    ----------
    x : torch.Tensor [shape=(n, n_mels, n_frames)]
        Mels in dB or normalized; float.
    semitones : float or torch.Tensor [shape=(n,)]
        The transposition of every row.
    fmin, fmax : float, default=0.0, 6000.0
        The mel axis (the MTG-Jamendo recipe's by default).

    Returns
    -------
    transposed : torch.Tensor [shape=(n, n_mels, n_frames)]

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.engine import transpose_mels
    >>> x = torch.zeros(1, 96, 4)
    >>> x[0, 40] = 1.0                        # a partial at 1176 Hz
    >>> int(transpose_mels(x, 12.0)[0, :, 0].argmax())  # an octave up: about 2352 Hz
    64
    """
    n, n_mels, frames = x.shape
    centers = mel_band_frequencies(n_mels, fmin, fmax)
    semitones = torch.as_tensor(semitones, dtype=torch.float64).expand(n)
    source = centers[None, :] / torch.pow(2.0, semitones / 12)[:, None]
    # fractional band index of each source frequency (piecewise linear between centers)
    upper = torch.searchsorted(centers, source.contiguous()).clamp(1, n_mels - 1)
    lower = upper - 1
    span = centers[upper] - centers[lower]
    position = (lower + (source - centers[lower]) / span).clamp(0, n_mels - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=n_mels - 1)
    weight = (position - low).to(x.dtype).unsqueeze(2)
    return (torch.gather(x, 1, low.unsqueeze(2).expand(-1, -1, frames)) * (1 - weight)
            + torch.gather(x, 1, high.unsqueeze(2).expand(-1, -1, frames)) * weight)


def _stretch(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Resample every row along time by its factor (> 1: faster), back to its length."""
    n_frames = x.shape[2]
    # output frame t reads input position t * factor (linear interpolation, edge frame)
    position = (torch.arange(n_frames)[None, :] * factors[:, None]).clamp(0, n_frames - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=n_frames - 1)
    weight = (position - low).unsqueeze(1)
    index = low.unsqueeze(1).expand(-1, x.shape[1], -1)
    upper = high.unsqueeze(1).expand(-1, x.shape[1], -1)
    return torch.gather(x, 2, index) * (1 - weight) + torch.gather(x, 2, upper) * weight


def mixup(alpha: float, n: int):
    """Draw the mixup weight and partners of a batch of ``n`` tracks.

    Returns
    -------
    weight : float
        One weight for the batch, drawn from Beta(alpha, alpha), at least 0.5 (each
        track stays the larger part).
    partner : torch.Tensor [shape=(n,), dtype=int64]
        A random permutation: track ``i`` becomes ``weight * x[i] + (1 - weight) *
        x[partner[i]]`` and its loss the same mixture of the two targets' losses.
    """
    weight = float(torch.distributions.Beta(alpha, alpha).sample())
    return max(weight, 1.0 - weight), torch.randperm(n)
