"""The torch engine: networks, fast CPU layers, window pooling, augmentation, and the
process settings of a fit. Plain PyTorch and NumPy; nothing here imports scikit-learn or
skorch, so these pieces can be used in a torch training loop of your own.

Modules: :mod:`~sklearn_genre.engine.modules` (``ShortChunkCRNN``, ``CRNN``),
:mod:`~sklearn_genre.engine.layers` (fast ``Conv1d``, ``MaxPoolReLU``, reproducible
dropout), :mod:`~sklearn_genre.engine.pooling` (windows to tracks),
:mod:`~sklearn_genre.engine.augment` (crops, SpecAugment, EQ, pitch, tempo, mixup),
:mod:`~sklearn_genre.engine.parallel` (batches split across threads),
:mod:`~sklearn_genre.engine.runtime` (threads and float settings, restored after use),
:mod:`~sklearn_genre.engine.allocator` (opt-in glibc tuning) and
:mod:`~sklearn_genre.engine._torch` (the only use of torch's private names).
"""

from .augment import Augment, mel_band_frequencies, mixup, random_crops, transpose_mels
from .layers import Conv1d, Dropout, MaxPoolReLU, dropout_generator, stacked_lstm
from .modules import CRNN, TIME_POOLINGS, ShortChunkCRNN
from .parallel import (
    batch_splittable,
    chunked_backward,
    chunked_forward,
    resolve_n_jobs,
    whole_batch_threads,
)
from .pooling import OUTPUTS, WINDOW_POOLINGS, pool_windows, window_scores
from .runtime import cpu_runtime, flush_denormal_enabled, process_settings

__all__ = [
    "Augment", "CRNN", "Conv1d", "Dropout", "MaxPoolReLU", "OUTPUTS", "ShortChunkCRNN",
    "TIME_POOLINGS", "WINDOW_POOLINGS", "batch_splittable", "chunked_backward",
    "chunked_forward", "cpu_runtime", "dropout_generator", "flush_denormal_enabled",
    "mel_band_frequencies", "mixup", "pool_windows", "process_settings", "random_crops",
    "resolve_n_jobs", "stacked_lstm", "transpose_mels", "whole_batch_threads",
    "window_scores",
]
