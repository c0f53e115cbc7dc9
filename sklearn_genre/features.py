"""Hand-made summary features for classical (scikit-learn only) baselines."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._validation import check_spectrograms
from .transformers import _StatelessSpectrogramTransformer

__all__ = ["ClassicFeatures", "MelStatistics"]


class MelStatistics(_StatelessSpectrogramTransformer):
    """Summarize every track by the mean and standard deviation of each mel band.

    Turns the 3-D spectrogram container into the 2-D table classical scikit-learn
    models expect: one row per track, ``2 * n_mels`` columns (means, then standard
    deviations).

    Attributes
    ----------
    n_mels_ : int
        Number of mel bands seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import MelStatistics
    >>> MelStatistics().fit_transform([np.zeros((96, 50)), np.ones((96, 80))]).shape
    (2, 192)
    """

    def __init__(self):
        pass

    def transform(self, X):
        """Return per-band means and standard deviations.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]

        Returns
        -------
        features : np.ndarray [shape=(n_tracks, 2 * n_mels)]
        """
        check_is_fitted(self)
        X = check_spectrograms(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)
        # float64: the standard deviation of large float32 values overflows otherwise
        return np.stack([np.concatenate([t.mean(axis=1, dtype=np.float64),
                                         np.asarray(t, dtype=np.float64).std(axis=1)])
                         for t in X])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True  # transform needs n_mels_ from fit
        return tags


class ClassicFeatures(_StatelessSpectrogramTransformer):
    """Summarize every track by the classic music-information-retrieval descriptors.

    What practitioners compute with librosa for a genre baseline, here from the mel
    spectrogram itself (the same input as the networks): 20 MFCCs; spectral centroid,
    bandwidth, roll-off (85 %) and flatness over the mel bands' centre frequencies;
    spectral contrast in 6 bands (5 octaves from 150 Hz and the rest); frame energy (RMS,
    dB); onset strength and the tempo estimated from it (librosa); each as the mean and
    standard deviation over the track's frames (tempo: one value). 65 columns in all.
    Zero crossings and chroma need the waveform and are not included.

    Parameters
    ----------
    n_mfcc : int, default=20

    Attributes
    ----------
    n_mels_ : int
        Number of mel bands seen in ``fit``.
    feature_names_ : list of str
        Column names, ``n_features`` long.

    Notes
    -----
    Input values are the MTG-Jamendo recipe's ``20 * log10(power)``
    (:mod:`sklearn_genre.audio`); the features are computed from the power it stands for.
    Frequencies assume 96 bands from 0 to 6000 Hz at 12 kHz; other band counts use the
    same range.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import ClassicFeatures
    >>> rng = np.random.default_rng(0)
    >>> ClassicFeatures().fit_transform([rng.normal(-60, 10, (96, 300))]).shape
    (1, 65)
    """

    _parameter_constraints: dict = {"n_mfcc": [Interval(Integral, 1, None, closed="left")]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True  # transform needs the fitted band count and names
        return tags

    def __init__(self, n_mfcc: int = 20):
        self.n_mfcc = n_mfcc

    def fit(self, X, y=None):
        """Check ``X`` and record the band count and feature names.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
        y : ignored

        Returns
        -------
        self : ClassicFeatures
        """
        super().fit(X)  # checks X and the parameters
        names = [f"mfcc{k}" for k in range(self.n_mfcc)] + [
            "centroid", "bandwidth", "rolloff", "flatness"] + [
            f"contrast{k}" for k in range(6)] + ["rms_db", "onset_strength"]
        self.feature_names_ = ([f"{n}_mean" for n in names] + [f"{n}_std" for n in names]
                               + ["tempo"])
        return self

    def transform(self, X):
        """Return the descriptors of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]

        Returns
        -------
        features : np.ndarray [shape=(n_tracks, 2 * (n_mfcc + 12) + 1)]
        """
        check_is_fitted(self)
        X = check_spectrograms(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)
        return np.stack([self._describe(np.asarray(track, dtype=np.float64)) for track in X])

    def _describe(self, mel_db: np.ndarray) -> np.ndarray:
        import librosa

        from .audio import F_MAX, HOP_LENGTH, SAMPLE_RATE

        power_db = np.maximum(mel_db / 2.0, -100.0)  # 20 log10(power) -> 10 log10(power)
        power = np.power(10.0, power_db / 10.0)
        n_mels = power.shape[0]
        freqs = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=F_MAX)[1:-1]
        total = power.sum(axis=0) + 1e-12
        centroid = (freqs[:, None] * power).sum(axis=0) / total
        bandwidth = np.sqrt((np.square(freqs[:, None] - centroid) * power).sum(axis=0)
                            / total)
        cumulative = np.cumsum(power, axis=0) / total
        rolloff = freqs[np.minimum((cumulative < 0.85).sum(axis=0), n_mels - 1)]
        flatness = np.exp(np.log(power + 1e-12).mean(axis=0)) / (power.mean(axis=0) + 1e-12)
        contrast = librosa.feature.spectral_contrast(S=np.sqrt(power), freq=freqs,
                                                     sr=SAMPLE_RATE, fmin=150.0, n_bands=5)
        # an octave band with no mel band in it (few bands) has no contrast: 0, not NaN
        contrast = np.nan_to_num(contrast, nan=0.0)
        rms_db = 10.0 * np.log10(power.mean(axis=0) + 1e-12)
        mfcc = librosa.feature.mfcc(S=power_db, n_mfcc=self.n_mfcc)
        onset = librosa.onset.onset_strength(S=power_db, sr=SAMPLE_RATE,
                                             hop_length=HOP_LENGTH)
        tempo = librosa.feature.tempo(onset_envelope=onset, sr=SAMPLE_RATE,
                                      hop_length=HOP_LENGTH)
        frames = np.vstack([mfcc, centroid, bandwidth, rolloff, flatness, contrast, rms_db,
                            onset[None, :power.shape[1]]])
        return np.concatenate([frames.mean(axis=1), frames.std(axis=1),
                               [float(np.ravel(tempo)[0])]])
