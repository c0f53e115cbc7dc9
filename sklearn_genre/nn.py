"""The networks, under the import path of the first release.

The modules live in :mod:`sklearn_genre.engine` (torch only); this module keeps
``from sklearn_genre.nn import CRNN`` working.
"""

from .engine.layers import Conv1d, Dropout, MaxPoolReLU, dropout_generator
from .engine.modules import CRNN, TIME_POOLINGS, ShortChunkCRNN
from .engine.pooling import WINDOW_POOLINGS

__all__ = ["CRNN", "Conv1d", "Dropout", "MaxPoolReLU", "ShortChunkCRNN", "TIME_POOLINGS",
           "WINDOW_POOLINGS", "dropout_generator"]
