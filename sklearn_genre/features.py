"""Hand-made summary features for classical (scikit-learn only) baselines."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._validation import check_spectrograms
from .transformers import _StatelessSpectrogramTransformer

__all__ = ["MelStatistics"]


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
