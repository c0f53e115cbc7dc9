"""sklearn_genre: music genre classification from mel-spectrograms, the scikit-learn way.

Transformers trim, normalize and window mel-spectrograms (one row per track), and
:class:`CRNNClassifier`, a skorch-wrapped CNN-RNN, ends the pipeline.
"""

from ._validation import check_spectrograms, check_windows
from .audio import MelSpectrogram
from .card import data_summary, model_card, read_card, render_card
from .classifier import CRNNClassifier
from .exceptions import DataFileError, SpectrogramError
from .export import export_onnx
from .features import ClassicFeatures, MelStatistics
from .persistence import UnsafeModelError, load, save
from .pipeline import (
    make_baseline_pipeline,
    make_genre_ensemble,
    make_genre_pipeline,
    make_tagging_pipeline,
)
from .report import report
from .tagger import CRNNTagger, tag_metrics
from .timeline import genre_timeline
from .transformers import LazyWindows, MelNormalizer, MelTrimmer, MelWindower

__version__ = "0.2.0.dev0"

__all__ = [
    "CRNNClassifier",
    "CRNNTagger",
    "ClassicFeatures",
    "DataFileError",
    "MelNormalizer",
    "MelSpectrogram",
    "MelStatistics",
    "MelTrimmer",
    "MelWindower",
    "LazyWindows",
    "SpectrogramError",
    "UnsafeModelError",
    "check_spectrograms",
    "check_windows",
    "data_summary",
    "export_onnx",
    "genre_timeline",
    "load",
    "make_baseline_pipeline",
    "make_genre_pipeline",
    "make_genre_ensemble",
    "make_tagging_pipeline",
    "model_card",
    "read_card",
    "render_card",
    "report",
    "save",
    "tag_metrics",
    "__version__",
]
