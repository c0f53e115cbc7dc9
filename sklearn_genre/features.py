"""Hand-made summary features for classical (scikit-learn only) baselines."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._validation import check_spectrograms

__all__ = ["MelStatistics"]


class MelStatistics(TransformerMixin, BaseEstimator):
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

    _parameter_constraints: dict = {}

    def __init__(self):
        pass

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
        self : MelStatistics
        """
        X = check_spectrograms(X, estimator_name=type(self).__name__)
        self.n_mels_ = X[0].shape[0]
        return self

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
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
