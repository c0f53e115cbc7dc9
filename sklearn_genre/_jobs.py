"""Process pools for the library's own short tasks, kept apart from the pools of fits.

joblib's loky workers record their memory after their first task and replace a worker
that holds 300 MB more after a later one ("A worker stopped while some jobs were given
to the executor"). glibc keeps the memory a fit frees (the clips a grid-search task
receives, its pipeline's copies) in the worker's heap, so a worker whose first task was
short (rendering a clip, decoding a file) crosses that line at its first fit and is
replaced. The library's own parallel loops (corpus rendering, audio extraction, dump
copies) therefore run in loky workers of their own (another idle timeout: loky then
keeps a separate pool, :data:`OWN_WORKER_TIMEOUT`); the next parallel fits start with
fresh workers, whose first task is a fit. Measured with
``benchmarks/check_lost_workers.py``.
"""

from __future__ import annotations

import contextlib

__all__ = ["OWN_WORKER_TIMEOUT", "own_workers"]

#: Seconds an idle worker of the library's own pool waits before it exits (joblib's
#: default for other pools is 300).
OWN_WORKER_TIMEOUT = 30


@contextlib.contextmanager
def own_workers(n_jobs):
    """Run the block's ``joblib.Parallel`` loops in a loky pool of the library's own.

    Does nothing for serial loops or when the caller chose another joblib backend
    (``joblib.parallel_config``), which is then used as it is.

    Parameters
    ----------
    n_jobs : int or None
    """
    from joblib import parallel_config
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if n_jobs in (None, 1) or type(backend).__name__ != "LokyBackend":
        yield
        return
    with parallel_config(backend="loky", idle_worker_timeout=OWN_WORKER_TIMEOUT):
        yield
