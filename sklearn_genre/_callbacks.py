"""skorch callbacks of the estimators: checkpoints, the one-cycle schedule, scores."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import joblib
import numpy as np
import torch
from skorch.callbacks import Callback

from ._lazy import LazyTracks

__all__ = ["OneCycle", "TrainingCheckpoint", "index_accuracy"]


def _data_identity(X):
    """What names the training data in a checkpoint's fingerprint: the first and last
    tracks of an array, the files of a lazily loaded dump, else None."""
    if isinstance(X, np.ndarray):
        return X[[0, -1]] if len(X) else None
    source = X
    while isinstance(source, LazyTracks):
        source = source.source
    paths = getattr(source, "paths", None)  # LazyMelList
    if paths is not None:
        return list(paths)
    if isinstance(source, list | tuple) and len(source):
        return [np.asarray(source[0]), np.asarray(source[-1])]
    return None


class TrainingCheckpoint(Callback):
    """Save the training state every ``every`` epochs; resume from it at the next fit.

    The state (module parameters, optimizer, history, torch RNG state) is written to a
    temporary folder that then replaces ``dirname/<fit>/state`` by renames, so a process
    killed at any moment leaves either the previous complete state or the new one.
    Restoring the RNG state makes a resumed fit end with the same model as an
    uninterrupted one.

    ``<fit>`` is a fingerprint of the estimator's parameters and of the training data
    (number of tracks, labels, first and last track): the parallel fits of a
    ``GridSearchCV`` (other parameters or other folds) never share a state, and only
    the same fit on the same data resumes.

    Parameters
    ----------
    dirname : str or path-like
    every : int, default=1
    """

    def __init__(self, dirname, every: int = 1):
        self.dirname = dirname
        self.every = every

    @staticmethod
    def fingerprint(net, X=None, y=None) -> str:
        """A short hash naming one fit: parameters and training data."""
        ignore = {"verbose", "n_jobs", "worker_priority", "callbacks", "checkpoint_dir",
                  "checkpoint_every"}
        params = {k: v for k, v in net.get_params(deep=False).items()
                  if k not in ignore and not k.startswith(("callbacks__", "_"))}
        data = [len(X) if X is not None else None, None if y is None else np.asarray(y)]
        data.append(_data_identity(X))
        return joblib.hash((sorted(params.items(), key=lambda kv: kv[0]), data))[:16]

    def _base(self):
        return Path(self.dirname) / self.fit_id_

    def _state_dir(self):
        base = self._base()
        for name in ("state", "state.old"):  # "state.old" only exists mid-swap
            if (base / name / "complete").exists():
                return base / name
        return None

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.fit_id_ = self.fingerprint(net, X, y)
        state = self._state_dir()
        if state is None:
            return
        net.load_params(f_params=state / "params.pt", f_optimizer=state / "optimizer.pt",
                        f_history=state / "history.json")
        torch.set_rng_state(torch.load(state / "rng.pt", weights_only=True))

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every and epoch != net.max_epochs:
            return
        base = self._base()
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=".state-"))
        net.save_params(f_params=tmp / "params.pt", f_optimizer=tmp / "optimizer.pt",
                        f_history=tmp / "history.json")
        torch.save(torch.get_rng_state(), tmp / "rng.pt")
        (tmp / "complete").write_text(str(epoch))
        current, old = base / "state", base / "state.old"
        if current.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(current, old)
        os.replace(tmp, current)
        shutil.rmtree(old, ignore_errors=True)


class OneCycle(Callback):
    """The one-cycle learning-rate schedule (Smith & Topin 2019), stepped every batch.

    The rate rises from ``lr / div_factor`` to the estimator's ``lr`` over the first
    ``pct_start`` of the training steps, then anneals (cosine) to nearly zero by the last
    epoch (``torch.optim.lr_scheduler.OneCycleLR``). Steps are counted from the number of
    training batches per epoch and ``max_epochs``; a resumed fit continues the schedule.

    Parameters
    ----------
    pct_start : float, default=0.3
    div_factor : float, default=25.0
    """

    def __init__(self, pct_start: float = 0.3, div_factor: float = 25.0):
        self.pct_start = pct_start
        self.div_factor = div_factor

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        steps_per_epoch = max(len(net.get_iterator(net.get_dataset(X, y), training=True)), 1)
        # the validation split takes tracks away; an upper bound keeps the schedule valid
        total = steps_per_epoch * max(int(net.max_epochs), 1) + 1
        self.scheduler_ = torch.optim.lr_scheduler.OneCycleLR(
            net.optimizer_, max_lr=net.lr, total_steps=total, pct_start=self.pct_start,
            div_factor=self.div_factor)
        for _ in range(sum(len(row.get("batches", [])) for row in net.history)):
            self.scheduler_.step()  # a resumed fit: where the schedule was

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.scheduler_.last_epoch < self.scheduler_.total_steps - 1:
            self.scheduler_.step()

    def on_train_end(self, net, **kwargs):
        # rebuilt from the history by the next fit; a fitted model holds no second
        # reference to its optimizer
        self.scheduler_ = None


def index_accuracy(net, X, y):
    """Accuracy of ``net`` on encoded targets ``y`` (skorch scoring callbacks)."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))
