"""Audio to mel-spectrograms with the MTG-Jamendo recipe.

Recipe (the MTG-Jamendo dataset's ``scripts/melspectrograms.py``, done with librosa):
mono, resampled to 12 kHz, frames of 512 samples, hop 256, Hann window, centered frames,
96 Slaney-scale mel bands from 0 to 6000 Hz with Slaney (unit-area) normalization, power
spectrum, converted to dB with ``10 * log10(max(power, 1e-10))``. About 46.9 frames/s.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "FRAME_RATE",
    "mel_spectrogram",
    "frames_to_seconds",
]

SAMPLE_RATE = 12000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
F_MAX = 6000.0
FRAME_RATE = SAMPLE_RATE / HOP_LENGTH  # 46.875 frames per second


def _librosa():
    try:
        import librosa
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "Computing mel-spectrograms needs librosa: pip install 'sklearn-genre[audio]'"
        ) from exc
    return librosa


def mel_spectrogram(waveform, sample_rate: int) -> np.ndarray:
    """Return the MTG-Jamendo mel-spectrogram of a waveform, in dB.

    Parameters
    ----------
    waveform : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        Audio samples; several channels are averaged to mono.
    sample_rate : int
        Sampling rate of ``waveform`` in Hz; resampled to 12 kHz when different.

    Returns
    -------
    mel_db : np.ndarray [shape=(96, n_frames), dtype=float32]
        ``n_frames = 1 + n_samples_12k // 256``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre.audio import mel_spectrogram
    >>> t = np.arange(12000 * 2) / 12000
    >>> mel_spectrogram(np.sin(2 * np.pi * 440 * t), 12000).shape
    (96, 94)
    """
    librosa = _librosa()
    y = np.asarray(waveform, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1:
        raise ValueError(f"waveform has shape {y.shape}; expected (n_samples,) or "
                         "(n_channels, n_samples).")
    if y.size == 0:
        raise ValueError("waveform is empty (0 samples).")
    if not np.isfinite(y).all():
        raise ValueError("waveform contains NaN or infinite samples.")
    if sample_rate != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=sample_rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    power = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, window="hann", center=True,
        n_mels=N_MELS, fmin=0.0, fmax=F_MAX, htk=False, norm="slaney", power=2.0,
    )
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def frames_to_seconds(frames) -> np.ndarray:
    """Return the time in seconds of frame indices (hop 256 at 12 kHz)."""
    return np.asarray(frames) / FRAME_RATE
