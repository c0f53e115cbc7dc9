"""The package's exception family.

All errors about bad input derive from ``ValueError`` so that scikit-learn code
paths (``GridSearchCV(error_score=...)``, estimator checks) treat them as the
usual input errors.
"""

__all__ = ["SpectrogramError", "DataFileError"]


class SpectrogramError(ValueError):
    """Spectrogram input of the wrong shape, type, size or content."""


class DataFileError(ValueError):
    """A data file (``.npy`` mel, audio, cache entry) is missing, unreadable or corrupt."""
