"""Process settings of a fit or a prediction, in one context manager that restores them.

:func:`cpu_runtime` is entered by every ``fit``, ``predict_proba`` and window scoring of
the estimators. Inside it:

- denormal floats are flushed to zero on the calling thread (about 2x faster LSTM
  backward passes on CPU); the flag is read before (:func:`flush_denormal_enabled`) and
  put back as it was;
- while batches are split across worker threads (``n_jobs``), the calling thread runs
  one torch thread (:func:`~sklearn_genre.engine.parallel.workers_only`); torch's thread
  count is put back on exit;
- glibc's allocator thresholds are left alone unless the user opts in with
  ``SKLEARN_GENRE_TUNE_MALLOC=1`` (:mod:`sklearn_genre.engine.allocator`: process-wide,
  once, never undone, since glibc cannot report its settings).

The worker threads of :mod:`~sklearn_genre.engine.parallel` belong to the package and keep
their own settings (one torch thread, denormals flushed).
"""

from __future__ import annotations

import contextlib

import torch

from .allocator import tune_malloc
from .parallel import workers_only

__all__ = ["cpu_runtime", "flush_denormal_enabled", "process_settings"]


def flush_denormal_enabled() -> bool:
    """Whether float32 denormals are flushed to zero on this thread (torch has no getter)."""
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # a float32 denormal
    return bool((tiny * 1.0).item() == 0.0)


def process_settings() -> dict:
    """What :func:`cpu_runtime` may change, as it is now on this thread (for tests)."""
    return {"num_threads": torch.get_num_threads(),
            "flush_denormal": flush_denormal_enabled()}


@contextlib.contextmanager
def cpu_runtime(*, n_jobs=None, device="cpu"):
    """Run the block with the settings a fit or prediction wants; restore them after.

    Parameters
    ----------
    n_jobs : int or None
        The estimator's ``n_jobs`` (batches split across that many threads).
    device : str or torch.device
        Nothing changes for other devices than the CPU.
    """
    if not str(device).startswith("cpu"):
        yield
        return
    tune_malloc()  # a no-op unless the user opted in
    flushed = flush_denormal_enabled()
    supported = torch.set_flush_denormal(True)
    try:
        with workers_only(n_jobs):
            yield
    finally:
        if supported and not flushed:
            torch.set_flush_denormal(False)
