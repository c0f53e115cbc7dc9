"""Scale out with existing engines: Dask for hyper-parameter search, accelerate for DDP.

Neither engine is a dependency of the package: ``pip install "sklearn_genre[scale]"``
adds ``dask[distributed]`` and ``accelerate``. See docs/scaling.md for the path from
one laptop to a cluster.
"""

from __future__ import annotations

from .classifier import CRNNClassifier
from .tagger import CRNNTagger

# the Accelerated* classes are built on first access (module __getattr__)
__all__ = ["WORKER_ENVIRON", "AcceleratedCRNNClassifier", "AcceleratedCRNNTagger",  # noqa: F822
           "local_dask_cluster"]

#: Environment of every Dask worker process, set before it starts (so before torch is
#: imported): one OpenMP/MKL thread per worker thread (no oversubscription), and
#: glibc's trim threshold raised from Dask's 64 KiB default, which hands freed batch
#: buffers back to the kernel after every batch and makes torch page-fault them again.
WORKER_ENVIRON = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
}


def local_dask_cluster(n_workers: int = 2, **kwargs):
    """Start a ``dask.distributed.LocalCluster`` set up for training CRNNs.

    One single-threaded worker process per core, with :data:`WORKER_ENVIRON`. For a
    real cluster, put the same variables in the ``distributed.nanny.pre-spawn-environ``
    configuration of the workers (see docs/scaling.md).

    Parameters
    ----------
    n_workers : int, default=2
    **kwargs
        Passed to ``LocalCluster`` (``threads_per_worker`` defaults to 1,
        ``processes`` to True).

    Returns
    -------
    cluster : distributed.LocalCluster
        Use ``distributed.Client(cluster)``, then
        ``with joblib.parallel_backend("dask"): search.fit(X, y)``.
    """
    import dask
    from distributed import LocalCluster

    kwargs.setdefault("threads_per_worker", 1)
    kwargs.setdefault("processes", True)
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.update(WORKER_ENVIRON)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=n_workers, **kwargs)


def _accelerated(base):
    from skorch.hf import AccelerateMixin

    class Accelerated(AccelerateMixin, base):
        __doc__ = f"""{base.__name__} trained data-parallel by Hugging Face accelerate.

        Pass ``accelerator=accelerate.Accelerator()``; launch the script with
        ``accelerate launch`` or ``torchrun --nproc_per_node N``. Each process trains on
        its shard of every batch, gradients are averaged (DDP), so all processes end
        with the same weights. Batches are not split across threads here (``n_jobs``
        is ignored); use one process per core or GPU instead. See docs/scaling.md.
        """

        def _initialize_accelerator(self):
            # DDP refuses modules without trainable parameters, such as the default
            # CrossEntropyLoss: only criteria with parameters are prepared
            criteria = self._criteria
            self._criteria = [name for name in criteria if any(
                p.requires_grad for p in getattr(self, name + "_").parameters())]
            try:
                return super()._initialize_accelerator()
            finally:
                self._criteria = criteria

    Accelerated.__name__ = Accelerated.__qualname__ = f"Accelerated{base.__name__}"
    Accelerated.__module__ = __name__
    return Accelerated


def __getattr__(name):
    # built on first use: importing this module must not need accelerate
    if name in ("AcceleratedCRNNClassifier", "AcceleratedCRNNTagger"):
        cls = _accelerated(CRNNClassifier if name == "AcceleratedCRNNClassifier"
                           else CRNNTagger)
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
