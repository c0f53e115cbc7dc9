"""Audio to mel-spectrograms with the MTG-Jamendo recipe.

Recipe (the MTG-Jamendo dataset's ``scripts/melspectrograms.py``, done with librosa):
mono, resampled to 12 kHz, frames of 512 samples, hop 256, Hann window, centered frames,
96 Slaney-scale mel bands from 0 to 6000 Hz with Slaney (unit-area) normalization, power
spectrum, then Essentia's ``UnaryOperator(type="lin2db", scale=2)``, i.e.
``20 * log10(max(power, 1e-10))`` (so values are twice the usual power dB, floor -200).
Like Essentia's ``FrameGenerator``, the last partial hop gets a frame of its own:
``ceil(n_samples / 256) + 1`` frames, 1408 for 30 s. About 46.9 frames/s.

Reproducibility: the mel projection is a matrix product, and a BLAS library may sum it in
another order with another number of threads. It runs on one BLAS thread here (about 0.5 ms
per 30 s of audio, under 5 % of an extraction: ``benchmarks/bench_audio.py``), so on one
machine the same audio gives the same mel, bit for bit, whatever ``n_jobs``, the machine's
thread count or the process. Machines whose BLAS picks another kernel (another processor)
may differ by float32 rounding, about 1e-4 dB on values of -200 to +100 dB.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._jobs import own_workers
from ._progress import progress
from .exceptions import DataFileError

__all__ = [
    "MelSpectrogram",
    "load_audio_mel",
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


#: Threads of the BLAS calls in the recipe (None: the library's default; set only by the
#: benchmark that measures what pinning costs).
_BLAS_THREADS = 1


def _blas_threads():
    """Context that runs the recipe's BLAS calls on :data:`_BLAS_THREADS` threads."""
    if _BLAS_THREADS is None:
        return contextlib.nullcontext()
    return _controller().limit(limits=_BLAS_THREADS, user_api="blas")


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


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
        ``n_frames = ceil(n_samples_12k / 256) + 1``, values in the dataset's scale.

    Examples
    --------
    >>> from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .exceptions import DataFileError
    >>> from sklearn_genre.audio import mel_spectrogram
    >>> t = np.arange(12000 * 2) / 12000
    >>> mel_spectrogram(np.sin(2 * np.pi * 440 * t), 12000).shape
    (96, 95)
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
    # Essentia's FrameGenerator frames the tail too: pad with zeros to get its frame count
    n_frames = int(np.ceil(y.size / HOP_LENGTH)) + 1
    y = np.pad(y, (0, (n_frames - 1) * HOP_LENGTH - y.size))
    with _blas_threads():  # the same sums whatever the thread count (module docstring)
        power = librosa.feature.melspectrogram(
            y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, window="hann",
            center=True, n_mels=N_MELS, fmin=0.0, fmax=F_MAX, htk=False, norm="slaney",
            power=2.0,
        )
    # Essentia's lin2db with scale=2, as the dataset's script used
    mel_db = (2.0 * librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None)).astype(
        np.float32)
    if not np.isfinite(mel_db).all():
        raise ValueError(
            f"waveform amplitude too large (max |sample| {float(np.abs(y).max()):.3g}): its "
            "power overflows; scale samples to [-1, 1]."
        )
    return mel_db


def frames_to_seconds(frames) -> np.ndarray:
    """Return the time in seconds of frame indices (hop 256 at 12 kHz)."""
    return np.asarray(frames) / FRAME_RATE


def load_audio_mel(item) -> np.ndarray:
    """Return the mel-spectrogram of an audio file path or a ``(waveform, sample_rate)`` pair.

    Raises
    ------
    DataFileError
        Naming the file: missing, unreadable or corrupt, empty, or silent.
    """
    if isinstance(item, tuple) and len(item) == 2:
        waveform, sample_rate = item
        name = "waveform"
    elif isinstance(item, str | Path):
        path = Path(item)
        name = str(path)
        if not path.is_file():
            raise DataFileError(f"{name}: file not found")
        librosa = _librosa()
        try:
            with warnings.catch_warnings():  # librosa's decoder fallback notices
                warnings.filterwarnings("ignore", message="PySoundFile failed")
                warnings.filterwarnings("ignore", category=FutureWarning, module="librosa")
                waveform, sample_rate = librosa.load(path, sr=None, mono=True)
        except Exception as exc:  # noqa: BLE001 - decoders raise many types
            raise DataFileError(f"{name}: cannot decode audio ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    else:
        raise TypeError(
            f"expected an audio file path or a (waveform, sample_rate) pair, got "
            f"{type(item).__name__}"
        )
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.size == 0:
        raise DataFileError(f"{name}: no audio samples (empty)")
    if not np.isfinite(waveform).all():
        raise DataFileError(f"{name}: audio contains NaN or infinite samples")
    if float(np.abs(waveform).max()) < 1e-6:
        raise DataFileError(f"{name}: audio is silent")
    try:
        return mel_spectrogram(waveform, int(sample_rate))
    except ValueError as exc:
        raise DataFileError(f"{name}: {exc}") from exc


class MelSpectrogram(TransformerMixin, BaseEstimator):
    """Turn audio into mel-spectrograms with the MTG-Jamendo recipe (stateless).

    Parameters
    ----------
    n_jobs : int or None, default=None
        Files processed in parallel (joblib); -1 uses all cores.
    verbose : bool, int or None, default=0
        A progress bar on standard error while transforming several items: 0 never,
        truthy always, None when standard error is a terminal and there are more than
        20 items.

    Notes
    -----
    Input: a list of audio file paths (WAV, FLAC, OGG; MP3 where a decoder exists) or of
    ``(waveform, sample_rate)`` pairs. Output: a list of
    ``np.ndarray [shape=(96, n_frames_i), dtype=float32]`` in dB, ready for the other
    transformers. An unreadable, corrupt, empty or silent file raises a
    :class:`~sklearn_genre.DataFileError` naming it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import MelSpectrogram
    >>> t = np.arange(22050 * 3) / 22050
    >>> [m.shape for m in MelSpectrogram().transform([(np.sin(2 * np.pi * 440 * t), 22050)])]
    [(96, 142)]
    """

    def __init__(self, *, n_jobs=None, verbose=0):
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X=None, y=None):
        """Do nothing (stateless); return self."""
        return self

    def transform(self, X):
        """Return the mel-spectrogram of every item of ``X``.

        Parameters
        ----------
        X : list of str, path-like or (np.ndarray [shape=(n_samples,)], int)

        Returns
        -------
        mels : list of np.ndarray [shape=(96, n_frames_i), dtype=float32]
        """
        from joblib import Parallel, delayed

        if isinstance(X, str | Path | tuple):
            raise TypeError("X must be a list of audio files or (waveform, sample_rate) "
                            "pairs; wrap a single item in a list.")
        items = list(X)
        if not items:
            raise ValueError("X contains no audio files.")
        bar = {"total": len(items), "desc": "mel-spectrograms", "unit": "file",
               "verbose": self.verbose if len(items) > 1 else 0}
        if self.n_jobs in (None, 1) or len(items) == 1:
            return [load_audio_mel(item) for item in progress(items, **bar)]
        with own_workers(self.n_jobs):  # the next parallel fits get fresh workers
            outputs = Parallel(n_jobs=self.n_jobs, return_as="generator")(
                delayed(load_audio_mel)(item) for item in items)
            return list(progress(outputs, **bar))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
