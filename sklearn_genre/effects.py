"""Recording and mix effects on waveforms: reverb, EQ, compression, noise, gain.

Real recordings of one genre differ in room, microphone, mix and loudness; the score
corpus applies these effects per clip (``render_score_corpus(effects="random")``) so a
model cannot rely on one clean rendering chain. Every effect is vectorized numpy/scipy
(no per-sample Python loop) and keeps the waveform's length:

- :func:`reverb`: convolution with a synthetic room response, exponentially decaying
  noise whose 60 dB decay time is ``seconds``, darker as it decays, mixed at ``wet``.
- :func:`equalize`: a zero-phase spectral tilt in dB per octave around 1 kHz, plus low
  (250 Hz) and high (4 kHz) shelves.
- :func:`compress`: feed-forward dynamic range compression of the 5 ms RMS envelope
  above a threshold relative to the clip's RMS level, with make-up gain.
- :func:`add_noise`: white to brown noise at an exact signal-to-noise ratio.
- gain: a loudness change in dB.

:class:`EffectRanges` holds the ranges the corpus draws from; :class:`ClipEffects`
one clip's drawn values, applied by :func:`apply_effects`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "EffectRanges",
    "ClipEffects",
    "apply_effects",
    "reverb",
    "equalize",
    "compress",
    "add_noise",
]

#: Reference frequency of the EQ tilt (Hz): tilting leaves it unchanged.
TILT_REFERENCE_HZ = 1000.0
#: Below this frequency (Hz) the tilt stays flat, so it never boosts sub-bass without bound.
TILT_FLOOR_HZ = 50.0
LOW_SHELF_HZ = 250.0
HIGH_SHELF_HZ = 4000.0
#: Hop of the compressor's RMS envelope (seconds) and its smoothing time constant.
ENVELOPE_SECONDS = 0.005
SMOOTHING_SECONDS = 0.02


def _mean_square(waveform: np.ndarray) -> float:
    return float(np.mean(np.square(waveform, dtype=np.float64)))


def _check_waveform(waveform) -> np.ndarray:
    y = np.asarray(waveform)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"waveform must be a non-empty 1-D array, got shape {y.shape}.")
    return y


def reverb(waveform, sample_rate: int, *, seconds: float, wet: float, rng=None) -> np.ndarray:
    """Return the waveform played in a synthetic room.

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,)]
    sample_rate : int
    seconds : float
        Reverberation time: the room response decays by 60 dB in ``seconds``.
    wet : float
        Share of the reverberant signal in the mix, 0 (dry) to 1 (all reverb); the
        reverberant part is scaled to the dry part's RMS before mixing.
    rng : numpy.random.Generator or int or None
        Draws the response's noise.

    Returns
    -------
    waveform : np.ndarray [shape=(n_samples,), dtype=float32]
    """
    from scipy.signal import lfilter, oaconvolve

    y = _check_waveform(waveform).astype(np.float32)
    if not 0 <= wet <= 1:
        raise ValueError(f"wet must be in [0, 1], got {wet!r}.")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}.")
    if wet == 0:
        return y
    rng = np.random.default_rng(rng)
    n_response = int(min(1.5 * seconds, 3.0) * sample_rate)
    t = np.arange(n_response) / sample_rate
    # amplitude falls 60 dB (a factor 1000) at t = seconds
    response = rng.standard_normal(n_response) * 10.0 ** (-3.0 * t / seconds)
    # walls absorb high frequencies: a gentle low-pass darkens the tail
    response = lfilter([0.6], [1.0, -0.4], response)
    pre_delay = int(0.015 * sample_rate)
    response = np.concatenate([np.zeros(pre_delay), response]).astype(np.float32)
    reverberant = oaconvolve(y, response)[: y.size]
    dry_rms = math.sqrt(_mean_square(y))
    wet_rms = math.sqrt(_mean_square(reverberant))
    if wet_rms > 0:
        reverberant *= dry_rms / wet_rms
    return ((1.0 - wet) * y + wet * reverberant).astype(np.float32)


def equalize(waveform, sample_rate: int, *, tilt_db_per_octave: float = 0.0,
             low_shelf_db: float = 0.0, high_shelf_db: float = 0.0) -> np.ndarray:
    """Return the waveform through a zero-phase tilt-and-shelves equalizer.

    The gain at frequency ``f`` in dB is
    ``tilt_db_per_octave * log2(max(f, 50) / 1000)`` plus a low shelf reaching
    ``low_shelf_db`` below 250 Hz and a high shelf reaching ``high_shelf_db`` above 4 kHz
    (half their gain at the corner frequency).

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,)]
    sample_rate : int
    tilt_db_per_octave : float, default=0.0
        Positive values brighten (+3: 2.6 octaves above 1 kHz, at 6 kHz, gain +7.8 dB),
        negative values darken.
    low_shelf_db, high_shelf_db : float, default=0.0

    Returns
    -------
    waveform : np.ndarray [shape=(n_samples,), dtype=float32]
    """
    y = _check_waveform(waveform)
    if tilt_db_per_octave == 0 and low_shelf_db == 0 and high_shelf_db == 0:
        return y.astype(np.float32)
    spectrum = np.fft.rfft(y.astype(np.float64))
    frequency = np.fft.rfftfreq(y.size, 1.0 / sample_rate)
    safe = np.maximum(frequency, 1e-3)
    gain_db = tilt_db_per_octave * np.log2(np.maximum(frequency, TILT_FLOOR_HZ)
                                           / TILT_REFERENCE_HZ)
    gain_db += low_shelf_db / (1.0 + (safe / LOW_SHELF_HZ) ** 2)
    gain_db += high_shelf_db / (1.0 + (HIGH_SHELF_HZ / safe) ** 2)
    spectrum *= 10.0 ** (gain_db / 20.0)
    return np.fft.irfft(spectrum, n=y.size).astype(np.float32)


def compress(waveform, sample_rate: int, *, threshold_db: float, ratio: float) -> np.ndarray:
    """Return the waveform with its loud passages compressed, at the same RMS level.

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,)]
    sample_rate : int
    threshold_db : float
        Threshold relative to the clip's RMS level (dB): the 5 ms RMS envelope above it
        is reduced.
    ratio : float
        Compression ratio, at least 1 (1: no change; 4: 4 dB above the threshold come
        out as 1 dB).

    Returns
    -------
    waveform : np.ndarray [shape=(n_samples,), dtype=float32]
    """
    from scipy.signal import lfilter

    y = _check_waveform(waveform).astype(np.float32)
    if not ratio >= 1:
        raise ValueError(f"ratio must be at least 1, got {ratio!r}.")
    mean_square = _mean_square(y)
    if ratio == 1 or mean_square == 0:
        return y
    hop = max(1, int(ENVELOPE_SECONDS * sample_rate))
    n_hops = -(-y.size // hop)
    padded = np.zeros(n_hops * hop, dtype=np.float64)
    padded[: y.size] = y
    envelope_db = 10.0 * np.log10(np.mean(padded.reshape(n_hops, hop) ** 2, axis=1)
                                  / mean_square + 1e-12)
    reduction_db = -np.maximum(envelope_db - threshold_db, 0.0) * (1.0 - 1.0 / ratio)
    # a one-pole smoother: the gain follows the envelope within about 20 ms
    alpha = math.exp(-ENVELOPE_SECONDS / SMOOTHING_SECONDS)
    reduction_db = lfilter([1 - alpha], [1.0, -alpha], reduction_db)
    centres = (np.arange(n_hops) + 0.5) * hop
    gain = 10.0 ** (np.interp(np.arange(y.size), centres, reduction_db) / 20.0)
    out = y * gain
    out *= math.sqrt(mean_square / max(_mean_square(out), 1e-20))  # make-up gain
    return out.astype(np.float32)


def add_noise(waveform, snr_db: float, *, color: float = 0.0, rng=None) -> np.ndarray:
    """Return the waveform plus noise at exactly ``snr_db``.

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,)]
    snr_db : float
        Signal-to-noise ratio in dB: ``10 log10(mean(waveform**2) / mean(noise**2))``
        over the clip.
    color : float, default=0.0
        Exponent of the noise's power spectrum ``1 / f**color``: 0 white (hiss), 1 pink,
        2 brown (rumble).
    rng : numpy.random.Generator or int or None

    Returns
    -------
    waveform : np.ndarray [shape=(n_samples,), dtype=float32]
    """
    y = _check_waveform(waveform)
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of dB, got {snr_db!r}.")
    if not 0 <= color <= 2:
        raise ValueError(f"color must be in [0, 2] (white to brown), got {color!r}.")
    rng = np.random.default_rng(rng)
    noise = rng.standard_normal(y.size)
    if color:
        spectrum = np.fft.rfft(noise)
        bins = np.maximum(np.arange(spectrum.size), 1)  # no infinite DC gain
        spectrum *= bins ** (-color / 2.0)
        noise = np.fft.irfft(spectrum, n=y.size)
    noise *= math.sqrt(_mean_square(y) / 10.0 ** (snr_db / 10.0) / _mean_square(noise))
    return (y + noise).astype(np.float32)


def _check_range(name, value, low, high):
    if (not isinstance(value, tuple | list) or len(value) != 2
            or not all(isinstance(v, int | float) for v in value)):
        raise ValueError(f"EffectRanges.{name} must be a (low, high) pair of numbers, got "
                         f"{value!r}.")
    if not low <= value[0] <= value[1] <= high:
        raise ValueError(f"EffectRanges.{name} must satisfy {low} <= low <= high <= {high}, "
                         f"got {tuple(value)!r}.")


@dataclass(frozen=True)
class EffectRanges:
    """Ranges (low, high) that each clip's effects are drawn from, uniformly.

    The defaults keep clips recognizable: rooms from dry to a hall, mixes from dull to
    bright, light to firm compression, hiss 25-50 dB below the music, loudness over 15 dB.

    Attributes
    ----------
    reverb_seconds : (float, float), default=(0.2, 1.6)
        Reverberation time (60 dB decay), seconds.
    reverb_wet : (float, float), default=(0.0, 0.35)
        Share of the reverberant signal.
    tilt_db_per_octave : (float, float), default=(-2.0, 2.0)
        Spectral tilt around 1 kHz.
    shelf_db : (float, float), default=(-6.0, 6.0)
        Low (250 Hz) and high (4 kHz) shelf gains, drawn independently.
    compression_ratio : (float, float), default=(1.0, 4.0)
    compression_threshold_db : (float, float), default=(-10.0, 0.0)
        Relative to the clip's RMS level.
    snr_db : (float, float), default=(25.0, 50.0)
        Signal-to-noise ratio of the added noise.
    noise_color : (float, float), default=(0.0, 1.5)
        Exponent of the noise spectrum (0 white, 1 pink).
    gain_db : (float, float), default=(-12.0, 3.0)
        Loudness relative to -20 dBFS RMS (peaks are kept below full scale).
    """

    reverb_seconds: tuple = (0.2, 1.6)
    reverb_wet: tuple = (0.0, 0.35)
    tilt_db_per_octave: tuple = (-2.0, 2.0)
    shelf_db: tuple = (-6.0, 6.0)
    compression_ratio: tuple = (1.0, 4.0)
    compression_threshold_db: tuple = (-10.0, 0.0)
    snr_db: tuple = (25.0, 50.0)
    noise_color: tuple = (0.0, 1.5)
    gain_db: tuple = (-12.0, 3.0)

    #: the bounds every range must stay within
    _LIMITS = {
        "reverb_seconds": (0.05, 5.0), "reverb_wet": (0.0, 1.0),
        "tilt_db_per_octave": (-6.0, 6.0), "shelf_db": (-18.0, 18.0),
        "compression_ratio": (1.0, 20.0), "compression_threshold_db": (-40.0, 20.0),
        "snr_db": (-10.0, 120.0), "noise_color": (0.0, 2.0), "gain_db": (-40.0, 20.0),
    }

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            _check_range(field.name, value, *self._LIMITS[field.name])
            object.__setattr__(self, field.name, tuple(float(v) for v in value))

    def draw(self, rng) -> ClipEffects:
        """Return one clip's effects, drawn uniformly from the ranges with ``rng``.

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        effects : ClipEffects
        """
        def uniform(bounds):
            return round(float(rng.uniform(*bounds)), 4)

        return ClipEffects(
            reverb_seconds=uniform(self.reverb_seconds),
            reverb_wet=uniform(self.reverb_wet),
            tilt_db_per_octave=uniform(self.tilt_db_per_octave),
            low_shelf_db=uniform(self.shelf_db),
            high_shelf_db=uniform(self.shelf_db),
            compression_ratio=uniform(self.compression_ratio),
            compression_threshold_db=uniform(self.compression_threshold_db),
            snr_db=uniform(self.snr_db),
            noise_color=uniform(self.noise_color),
            gain_db=uniform(self.gain_db),
            seed=int(rng.integers(2**31)),
        )


@dataclass(frozen=True)
class ClipEffects:
    """The effects of one clip, in the order :func:`apply_effects` applies them.

    Neutral values (the defaults) leave the waveform unchanged; ``snr_db=None`` adds
    no noise. ``seed`` draws the room response and the noise.
    """

    reverb_seconds: float = 1.0
    reverb_wet: float = 0.0
    tilt_db_per_octave: float = 0.0
    low_shelf_db: float = 0.0
    high_shelf_db: float = 0.0
    compression_ratio: float = 1.0
    compression_threshold_db: float = 0.0
    snr_db: float | None = None
    noise_color: float = 0.0
    gain_db: float = 0.0
    seed: int = 0


def apply_effects(waveform, sample_rate: int, effects: ClipEffects) -> np.ndarray:
    """Return the waveform through reverb, EQ, compression, noise and gain, in this order.

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,)]
    sample_rate : int
    effects : ClipEffects

    Returns
    -------
    waveform : np.ndarray [shape=(n_samples,), dtype=float32]
        Scaled down if a peak would exceed 0.99 (a limiter's job in a real master).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre.effects import ClipEffects, apply_effects
    >>> t = np.arange(12000) / 12000
    >>> y = 0.1 * np.sin(2 * np.pi * 440 * t)
    >>> apply_effects(y, 12000, ClipEffects(reverb_wet=0.3, snr_db=30.0)).shape
    (12000,)
    """
    room_rng, noise_rng = (np.random.default_rng(child) for child in
                           np.random.SeedSequence(effects.seed).spawn(2))
    y = reverb(waveform, sample_rate, seconds=effects.reverb_seconds, wet=effects.reverb_wet,
               rng=room_rng)
    y = equalize(y, sample_rate, tilt_db_per_octave=effects.tilt_db_per_octave,
                 low_shelf_db=effects.low_shelf_db, high_shelf_db=effects.high_shelf_db)
    y = compress(y, sample_rate, threshold_db=effects.compression_threshold_db,
                 ratio=effects.compression_ratio)
    if effects.snr_db is not None:
        y = add_noise(y, effects.snr_db, color=effects.noise_color, rng=noise_rng)
    y = y * np.float32(10.0 ** (effects.gain_db / 20.0))
    return limit_peak(y)


def limit_peak(waveform: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """Return the waveform scaled down so that no sample exceeds ``peak`` in magnitude."""
    largest = float(np.abs(waveform).max())
    if largest > peak:
        waveform = waveform * np.float32(peak / largest)
    return waveform.astype(np.float32, copy=False)
