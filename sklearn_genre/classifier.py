"""The skorch wrapper: labels in and out, seeding, sensible defaults."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, EpochScoring
from skorch.dataset import ValidSplit, unpack_data
from skorch.utils import is_dataset, to_tensor
from torch.utils.data import Dataset, Subset

from ._allocator import tune_malloc
from ._batches import array_batches
from ._loader import IdleWorkers, loader_over_windows
from ._parallel import chunked_backward, chunked_forward, resolve_n_jobs, workers_only
from ._validation import check_windows, n_mels_of
from .nn import CRNN

__all__ = ["CRNNClassifier"]


@contextlib.contextmanager
def _seeded(seed, device):
    """Seed torch inside the block without touching the caller's global RNG state."""
    if seed is None:
        yield
        return
    cuda_devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        cuda_devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _flush_denormal():
    """Flush denormal floats to zero inside the block (2x faster LSTM backward on CPU).

    torch has no getter for this flag; it is restored to torch's default (off).
    Also tunes glibc's allocator once per process (:mod:`sklearn_genre._allocator`).
    """
    tune_malloc()
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


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
        if isinstance(X, np.ndarray) and len(X):
            data.append(X[[0, -1]])
        elif X is not None and hasattr(X, "source") and hasattr(X.source, "paths"):
            data.append(list(X.source.paths))
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


class RandomCropDataset(Dataset):
    """Wrap a dataset of windows ``(n_windows, n_mels, window_frames)``: random time crops.

    Every access draws, for each window, a crop of ``crop_frames`` frames at a random
    offset (torch's RNG, so seeding torch makes it reproducible). Windows shorter than
    ``crop_frames`` are returned whole.
    """

    def __init__(self, dataset, crop_frames: int):
        self.dataset = dataset
        self.crop_frames = int(crop_frames)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        X, y = self.dataset[index]
        X = torch.as_tensor(X)
        n_frames = X.shape[-1]
        if n_frames <= self.crop_frames:
            return X, y
        starts = torch.randint(0, n_frames - self.crop_frames + 1, (X.shape[0],))
        crops = torch.stack([X[w, :, start:start + self.crop_frames]
                             for w, start in enumerate(starts.tolist())])
        return crops, y


def index_accuracy(net, X, y):
    """Accuracy of ``net`` on encoded targets ``y`` (skorch scoring callbacks)."""
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == np.asarray(y)))


def _check_labels(y, n_tracks: int):
    if y is None:
        raise ValueError("CRNNClassifier.fit requires y, one label per track; got None.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"y has shape {y.shape}; expected one label per track, shape ({n_tracks},)."
        )
    if len(y) != n_tracks:
        raise ValueError(
            f"X has {n_tracks} tracks but y has {len(y)} labels; they must match."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite labels.")
    if y.dtype == object and any(label is None for label in y):
        raise ValueError("y contains None labels.")
    target_type = type_of_target(y)
    if target_type not in ("binary", "multiclass"):
        raise ValueError(
            f"y is of type {target_type!r}; CRNNClassifier expects class labels "
            "(strings or integers), one per track."
        )
    return y


class CRNNClassifier(NeuralNetClassifier):
    """CNN-RNN genre classifier for mel-spectrograms, scikit-learn compatible.

    A thin subclass of :class:`skorch.NeuralNetClassifier` around
    :class:`sklearn_genre.nn.CRNN` that takes labels of any kind (strings stay
    strings), infers ``n_mels`` and the number of classes in ``fit``, seeds every
    source of randomness from ``random_state``, stops early on a stratified
    validation split and restores the best weights.

    Every setting of the network is reachable as ``module__<name>`` (for instance
    ``module__hidden_size``, ``module__conv_channels``, ``module__time_pooling``,
    ``module__window_pooling``), every setting of the optimizer as
    ``optimizer__<name>``, so ``GridSearchCV`` can tune them. Defaults are the
    original project's documented values: conv 8 then 16 channels, kernel 3, pool 2,
    LSTM hidden 16 with 3 layers, dense 32, dropout 0.5, Adam with lr 0.01 and
    weight decay 0.001.

    Parameters
    ----------
    module : torch.nn.Module class, default=CRNN
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=0.01
    max_epochs : int, default=40
    batch_size : int, default=32
    train_split : callable or None, default=ValidSplit(0.2, stratified=True)
        Internal validation split used for early stopping and the validation
        columns of ``history_``. A :class:`skorch.dataset.ValidSplit` without its
        own ``random_state`` is seeded from ``random_state``. None trains on all
        data (and disables early stopping).
    train_crop_frames : int or None, default=None
        Augmentation: during training, every window is replaced by a random crop of
        this many frames, drawn anew each epoch (seeded by ``random_state``);
        validation and prediction use the whole windows. None trains on whole windows.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the network under torch autocast (CPU AMX/AVX-512 bf16 or
        CUDA), faster on recent hardware; predictions then differ from float32 slightly
        (see docs/benchmarks.md for the measured speed and accuracy).
    checkpoint_dir : str, path-like or None, default=None
        Save the training state there every ``checkpoint_every`` epochs; a later
        ``fit`` with the same settings resumes from it and trains only the remaining
        epochs (see :class:`TrainingCheckpoint`). Use one folder per model.
    checkpoint_every : int, default=1
    patience : int or None, default=10
        Epochs without improvement of the validation loss before training stops;
        the weights of the best epoch are restored. None disables early stopping.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss, as in scikit-learn.
    random_state : int, RandomState or None, default=None
        Seeds weight initialization, dropout, the validation split and the batch
        order. The same seed, data and ``n_jobs`` give identical predictions.
    n_jobs : int or None, default=None
        On CPU, every batch of at least 32 sequences (tracks x windows) is split into up
        to this many chunks of at least 16 sequences that run in parallel threads, one
        core each, and their gradients are summed exactly (about 1.3x faster training
        on 2 cores than letting torch spread each small LSTM step over the cores;
        smaller batches run whole). None means torch's thread count
        (``torch.get_num_threads()``), -1 all cores, 1 no splitting. The dropout masks
        are drawn per chunk, so a fit with another ``n_jobs`` is a different (equally
        good) random draw; fix ``n_jobs`` to reproduce a fit on another machine.
        Predictions do not depend on it beyond float32 rounding.
    worker_priority : {"idle", "low", "normal"}, default="idle"
        CPU priority of ``DataLoader`` worker processes (``iterator_train__num_workers``
        or ``iterator_valid__num_workers`` > 0, for data read out of core).
        ``"idle"``: Linux ``SCHED_IDLE`` with best-effort disk priority (``nice`` 19 on
        other Unix systems), so the workers read in the time the training threads
        leave a core idle instead of preempting them; ``"low"``: ``nice`` 10;
        ``"normal"`` leaves them as started. Measured in docs/scaling.md (idle was the
        fastest there, by 5-15 %). Any ``iterator_*__worker_init_fn`` still runs,
        after it.
    device : str, default="cpu"
        ``"cuda"`` to train on a GPU.
    verbose : int, default=1
        1 prints a table row per epoch, 0 is silent.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter, ``module__*``,
        ``optimizer__*`` (default ``optimizer__weight_decay=0.001``),
        ``iterator_train__*``, ``callbacks__*``.

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
        Sorted class labels.
    n_mels_ : int
        Number of mel bands seen in ``fit``.
    class_weight_ : np.ndarray [shape=(n_classes,)] or None
        Loss weight of each class.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``, ``dur``.
    module_ : CRNN
        The trained network.

    Notes
    -----
    Input is ``X`` of shape ``(n_tracks, n_mels, n_frames)`` or windows
    ``(n_tracks, n_windows, n_mels, window_frames)`` (see
    :class:`sklearn_genre.MelWindower`); the windows of a track are scored with
    shared weights and pooled into one prediction per track. Axis 0 is always the
    track, so scikit-learn's splitters and scorers work at track level.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import CRNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 16, 64)).astype(np.float32)
    >>> X[20:, :8] += 2.0                                   # class "b": louder low bands
    >>> y = np.array(["a"] * 20 + ["b"] * 20)
    >>> clf = CRNNClassifier(max_epochs=15, verbose=0, random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['a', 'b']
    >>> clf.predict(X[:2]).tolist(), clf.predict_proba(X[:2]).shape
    (['a', 'a'], (2, 2))
    """

    def __init__(
        self,
        module=CRNN,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=40,
        batch_size=32,
        train_split=ValidSplit(0.2, stratified=True),  # noqa: B008 (skorch's convention)
        train_crop_frames=None,
        precision="float32",
        checkpoint_dir=None,
        checkpoint_every=1,
        patience=10,
        class_weight=None,
        random_state=None,
        n_jobs=None,
        worker_priority="idle",
        device="cpu",
        verbose=1,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__weight_decay", 0.001)
        kwargs.setdefault("iterator_train__shuffle", True)
        # inference batches do not change predictions (tracks never mix) and bigger ones
        # keep the LSTM's per-step matrix products busy
        kwargs.setdefault("iterator_valid__batch_size", 256)
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.train_crop_frames = train_crop_frames
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.patience = patience
        self.class_weight = class_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.worker_priority = worker_priority

    # -- skorch hooks ---------------------------------------------------------------

    @property
    def _default_callbacks(self):
        callbacks = [(name, cb) for name, cb in super()._default_callbacks if name != "valid_acc"]
        # skorch's scoring sees encoded targets, so accuracy is computed on class indices;
        # train accuracy comes from the cached training predictions: curves for free.
        callbacks.insert(2, ("train_acc", EpochScoring(
            index_accuracy, name="train_acc", lower_is_better=False, on_train=True)))
        callbacks.insert(4, ("valid_acc", EpochScoring(
            index_accuracy, name="valid_acc", lower_is_better=False)))
        if self.checkpoint_dir is not None:
            callbacks.insert(-1, ("checkpoint", TrainingCheckpoint(
                self.checkpoint_dir, every=self.checkpoint_every)))
        if self.patience is not None and self.train_split is not None:
            callbacks.insert(-1, ("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True)))
        return callbacks

    def initialize_module(self):
        """Build the module, with ``n_mels`` and ``n_classes`` inferred in ``fit``."""
        kwargs = self.get_params_for("module")
        if hasattr(self, "n_mels_"):
            kwargs.setdefault("n_mels", self.n_mels_)
        if hasattr(self, "label_encoder_"):
            kwargs.setdefault("n_classes", len(self.label_encoder_.classes_))
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def initialize_criterion(self):
        """Build the criterion, with the class weights computed in ``fit``."""
        kwargs = self.get_params_for("criterion")
        weight = getattr(self, "class_weight_", None)
        if weight is not None and "weight" not in kwargs:
            kwargs["weight"] = torch.as_tensor(weight, dtype=torch.float32)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _autocast(self):
        """The precision context of every forward pass."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        if self.precision != "bfloat16":
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got "
                             f"{self.precision!r}.")
        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)

    @contextlib.contextmanager
    def _cpu_settings(self):
        """Denormals flushed, and the calling thread kept serial while workers run."""
        with _flush_denormal():
            if str(self.device).startswith("cpu"):
                with workers_only(self.n_jobs):
                    yield
            else:
                yield

    #: Fewest LSTM sequences (tracks x windows) per thread: below this, splitting a batch
    #: costs more than it gains (measured on 2 cores with the calling thread kept serial:
    #: batches of 32 one-window clips train 1.3x faster as two halves of 16).
    _min_chunk_sequences = 16

    #: Sequences per piece at inference (several pieces per thread): 32 one-window clips
    #: of 1400 frames take 17 MB as float32, below glibc's 32 MiB mmap threshold.
    _infer_piece = 32

    def _n_chunks(self, x, fit_params) -> int:
        """How many threads share this batch (1: torch's own threading)."""
        if fit_params or not isinstance(x, (torch.Tensor, np.ndarray)):
            return 1
        if not str(self.device).startswith("cpu") or getattr(self, "accelerator", None):
            return 1  # GPUs, and processes under accelerate (DDP), run whole batches
        n_sequences = len(x) * (x.shape[1] if x.ndim == 4 else 1)
        by_size = max(n_sequences // self._min_chunk_sequences, 1)
        return min(resolve_n_jobs(self.n_jobs), by_size, len(x))

    def _infer_one(self, x, **fit_params):
        with self._autocast():
            return super().infer(x, **fit_params).float()

    def infer(self, x, **fit_params):
        """Forward pass, under bfloat16 autocast when ``precision="bfloat16"``.

        Without gradients (validation, prediction), the batch is split across
        ``n_jobs`` threads.
        """
        n_chunks = self._n_chunks(x, fit_params)
        if n_chunks > 1 and not torch.is_grad_enabled():
            x = to_tensor(x, device=self.device)
            # pieces of about _infer_piece sequences, shared by the n_chunks threads: small
            # pieces keep each thread's buffers (and float16 -> float32 copies) reusable
            per_track = x.shape[1] if x.ndim == 4 else 1
            n_pieces = max(n_chunks, -(-len(x) * per_track // self._infer_piece))
            n_pieces = min(n_pieces, len(x))
            return torch.cat(chunked_forward(self._infer_one, x, n_pieces, grad=False,
                                             n_workers=n_chunks))
        return self._infer_one(x, **fit_params)

    def train_step_single(self, batch, **fit_params):
        """Forward, loss and gradients of one batch, split across ``n_jobs`` threads.

        Each chunk runs its forward pass in a worker thread with its own dropout seed
        (drawn from torch's seeded RNG); the loss is computed on the whole batch, so
        any criterion and class weights behave as without splitting; each chunk's
        backward pass runs in its thread and the gradients are summed in chunk order.
        """
        Xi, yi = unpack_data(batch)
        n_chunks = self._n_chunks(Xi, fit_params)
        if n_chunks <= 1:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        x = to_tensor(Xi, device=self.device)
        seeds = torch.randint(0, 2**62, (n_chunks,)).tolist()
        outputs = chunked_forward(self._infer_one, x, n_chunks, grad=True, seeds=seeds)
        leaves = [output.detach().requires_grad_() for output in outputs]
        y_pred = torch.cat(leaves)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        grad_outputs = torch.autograd.grad(loss, leaves)
        params = [p for p in self.module_.parameters() if p.requires_grad]
        for param, grad in zip(params, chunked_backward(outputs, grad_outputs, params)):
            if grad is not None:
                param.grad = grad if param.grad is None else param.grad + grad
        return {"loss": loss.detach(), "y_pred": y_pred.detach()}

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Run the epochs; after a resumed checkpoint, only those still missing."""
        if epochs is None and self.checkpoint_dir is not None:
            epochs = max(self.max_epochs - len(self.history), 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; training batches get random crops when asked.

        In-memory arrays with the default iterator settings are sliced batch by batch
        (:class:`sklearn_genre._batches.ArrayBatches`) rather than collated track by
        track; anything else goes through torch's ``DataLoader``: lazily loaded windows
        (:class:`~sklearn_genre.LazyWindows`) a batch at a time
        (:class:`sklearn_genre._loader.WindowBatches`, unless a ``collate_fn`` is
        given), with workers at ``worker_priority``. With a CUDA ``device``, batches
        come in pinned memory (``iterator_*__pin_memory=False`` turns it off for the
        ``DataLoader``).
        """
        if training and self.train_crop_frames is not None:
            dataset = RandomCropDataset(dataset, self.train_crop_frames)
        prefix = "iterator_train" if training else "iterator_valid"
        params = self.get_params_for(prefix)
        iterator = self.iterator_train if training else self.iterator_valid
        pin = str(self.device).startswith("cuda")
        if (iterator is torch.utils.data.DataLoader and set(params) <= {"batch_size", "shuffle"}
                and getattr(self, "accelerator", None) is None):  # accelerate shards loaders
            batches = array_batches(dataset, params.get("batch_size", self.batch_size),
                                    shuffle=bool(params.get("shuffle", False)),
                                    pin_memory=pin)
            if batches is not None:
                return batches
        # skorch's own construction, plus pinned memory by default for a GPU
        params.setdefault("batch_size", self.batch_size)
        if params["batch_size"] == -1:
            params["batch_size"] = len(dataset)
        if pin and iterator is torch.utils.data.DataLoader:
            params.setdefault("pin_memory", True)
        if iterator is torch.utils.data.DataLoader:
            priority = getattr(self, "worker_priority", "idle")
            if priority not in ("idle", "low", "normal"):
                raise ValueError(f"worker_priority must be 'idle', 'low' or 'normal', got "
                                 f"{priority!r}.")
            if params.get("num_workers", 0) > 0 and priority != "normal":
                params["worker_init_fn"] = IdleWorkers(params.get("worker_init_fn"), priority)
            # GPUs copy batches to pinned memory, accelerate re-wraps loaders: no reuse
            loader = loader_over_windows(
                iterator, dataset, params, reuse=not params.get("pin_memory", False)
                and getattr(self, "accelerator", None) is None)
            if loader is not None:
                return loader
        return iterator(dataset, **params)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation set.

        A :class:`skorch.dataset.ValidSplit` with a float ``cv`` is applied so that it
        works on small folds too: seeded from ``random_state`` when it has no seed of
        its own, at least one validation track per class when stratified, and
        unstratified when a class has a single track.
        """
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if not split:
            return dataset, None
        if not (isinstance(split, ValidSplit) and isinstance(split.cv, float) and y is not None):
            return split(dataset, y, **fit_params)
        y = np.asarray(y)
        n_tracks, n_classes = len(y), len(np.unique(y))
        seed = (split.random_state if split.random_state is not None
                else getattr(self, "_fit_seed", None))
        stratified = split.stratified and np.bincount(y).min() >= 2
        n_valid = max(int(np.ceil(split.cv * n_tracks)), n_classes if stratified else 1)
        if n_tracks - n_valid < n_classes:
            raise ValueError(
                f"{n_tracks} tracks are too few for a validation split of {split.cv} with "
                f"{n_classes} classes; pass train_split=None to train on all of them."
            )
        splitter = (StratifiedShuffleSplit if stratified else ShuffleSplit)(
            n_splits=1, test_size=n_valid, random_state=seed)
        train, valid = next(splitter.split(np.zeros(n_tracks), y))
        return Subset(dataset, train), Subset(dataset, valid)

    # -- scikit-learn API -----------------------------------------------------------

    @property
    def classes_(self):
        check_is_fitted(self, "label_encoder_")
        return self.label_encoder_.classes_

    def _compute_class_weight(self, y_encoded: np.ndarray, n_classes: int):
        if self.class_weight is None:
            return None
        classes = np.arange(n_classes)
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be None, 'balanced' or a dict, got "
                    f"{self.class_weight!r}."
                )
            return compute_class_weight("balanced", classes=classes, y=y_encoded)
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.label_encoder_.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight names labels not in y: {sorted(map(str, unknown))}."
                )
            return np.array([float(self.class_weight.get(label, 1.0))
                             for label in self.label_encoder_.classes_])
        raise ValueError(
            f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}."
        )

    def fit(self, X, y, **fit_params):
        """Train the network on tracks ``X`` with labels ``y``.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)]
            Fixed-size mel-spectrograms (float16 or float32).
        y : array-like [shape=(n_tracks,)]
            Class labels of any type (strings stay strings in ``predict``).
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self : CRNNClassifier
        """
        X = check_windows(X, estimator_name=type(self).__name__)
        y = _check_labels(y, len(X))
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"y has a single class ({encoder.classes_[0]!r}); a classifier needs at "
                "least 2 classes."
            )
        self.label_encoder_ = encoder
        self.n_mels_ = n_mels_of(X)
        y_encoded = encoder.transform(y).astype(np.int64)
        self.class_weight_ = self._compute_class_weight(y_encoded, len(encoder.classes_))
        # drawn once per fit: a RandomState instance advances once, not per use
        self._fit_seed = self._draw_seed()
        with _seeded(self._fit_seed, self.device), self._cpu_settings():
            super().fit(X, y_encoded, **fit_params)
        self._raise_if_diverged()
        return self

    def _raise_if_diverged(self):
        losses = [row.get("train_loss") for row in self.history_]
        if losses and losses[-1] is not None and not np.isfinite(losses[-1]):
            raise ValueError(
                "training diverged: the training loss is not finite. Normalize the input "
                "(MelNormalizer) or lower the learning rate (lr)."
            )

    def _draw_seed(self):
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _check_predict_input(self, X):
        check_is_fitted(self, ["label_encoder_", "module_"])
        if is_dataset(X):  # skorch's own scoring callbacks pass its validated datasets
            return X
        return check_windows(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)

    def predict_proba(self, X):
        """Return class probabilities per track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)]

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_classes)]
            Columns follow ``classes_``; rows sum to 1.
        """
        X = self._check_predict_input(X)
        with self._cpu_settings():
            proba = super().predict_proba(X).astype(np.float64)
        if not np.isfinite(proba).all():
            bad = int(np.flatnonzero(~np.isfinite(proba).all(axis=1))[0])
            raise ValueError(
                f"the network produced non-finite outputs for track {bad}: its input values "
                "are out of the range the model can handle. Normalize the input "
                "(MelNormalizer) before the classifier."
            )
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_proba_windows(self, X):
        """Return class probabilities for every window of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames) or \
(n_tracks, n_mels, n_frames)]

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_windows, n_classes)]
            Columns follow ``classes_``; each window's row sums to 1. See
            :func:`sklearn_genre.genre_timeline` for windows with their start times.
        """
        X = self._check_predict_input(X)
        self.module_.eval()
        batches = []
        size = getattr(self, "iterator_valid__batch_size", None) or self.batch_size
        with torch.no_grad(), self._cpu_settings(), self._autocast():
            for start in range(0, len(X), size):
                batch = X[start:start + size]
                if not isinstance(batch, np.ndarray):  # LazyWindows: read the tracks now
                    batch = batch.read_batch()
                batch = torch.as_tensor(batch).to(self.device)
                logits = self.module_.window_logits(batch)
                batches.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        proba = np.concatenate(batches).astype(np.float64)
        return proba / proba.sum(axis=-1, keepdims=True)

    def predict(self, X):
        """Return the predicted label of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)]

        Returns
        -------
        y_pred : np.ndarray [shape=(n_tracks,)]
            Labels from ``classes_``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
