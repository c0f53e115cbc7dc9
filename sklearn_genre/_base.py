"""What the classifier and the tagger share: one skorch net over window batches.

:class:`CRNNBase` owns the parameters both estimators take, seeding, the training step
(random crops and augmentation, a loss per window or per track, mixup, batches split
across threads), the data path (:mod:`sklearn_genre._data`), checkpoints, the learning
rate schedule, window scoring and pooling, and the checks of ``fit`` and ``predict``.
:class:`~sklearn_genre.CRNNClassifier` (softmax, label encoding, class weights) and
:class:`~sklearn_genre.CRNNTagger` (sigmoid, multi-label binarizer, ``pos_weight``,
thresholds) are thin subclasses, the way skorch's ``NeuralNetClassifier`` and
``NeuralNetBinaryClassifier`` sit over ``NeuralNet``. The torch side (networks, pooling,
augmentation, threads) is :mod:`sklearn_genre.engine`.
"""

from __future__ import annotations

import contextlib
from numbers import Integral

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit, unpack_data
from skorch.utils import is_dataset, to_tensor
from torch.utils.data import Subset

from ._callbacks import OneCycle, TrainingCheckpoint
from ._data import iterator_for
from ._progress import progress
from ._validation import check_windows, n_mels_of
from .engine import (
    Augment,
    batch_splittable,
    chunked_backward,
    chunked_forward,
    cpu_runtime,
    mixup,
    pool_windows,
    random_crops,
    resolve_n_jobs,
    whole_batch_threads,
    window_scores,
)

__all__ = ["CRNNBase", "LR_SCHEDULES", "TRAIN_LOSSES"]

TRAIN_LOSSES = ("track", "window")
LR_SCHEDULES = ("onecycle", None)


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


class _Augmented:
    """A training iterator whose batches get random crops and augmentation."""

    def __init__(self, batches, crop_frames, augment):
        self.batches, self.crop_frames, self.augment = batches, crop_frames, augment

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            X, *rest = batch
            X = to_tensor(X, device="cpu") if not isinstance(X, torch.Tensor) else X
            if X.dim() == 3:
                X = X.unsqueeze(1)
            if self.crop_frames is not None:
                X = random_crops(X, self.crop_frames)
            if self.augment is not None and self.augment.active:
                X = self.augment(X)
            yield (X, *rest)


class CRNNBase(NeuralNet):
    """Shared base of :class:`~sklearn_genre.CRNNClassifier` and
    :class:`~sklearn_genre.CRNNTagger`; not used directly.

    Subclasses set :attr:`output` and implement the target hooks (``_encode_target``,
    ``_criterion_kwargs``, ``_n_outputs``, ``_stratify_on``, ``_scoring_callbacks``,
    ``_check_fitted``). Their ``__init__`` lists every parameter (scikit-learn reads the
    signature) and passes them here.
    """

    #: The output function of the track logits: "softmax" or "sigmoid".
    output = "softmax"
    #: Fewest sequences (tracks x windows) per thread when a batch is split: below this,
    #: splitting costs more than it gains (2 cores, one-window clips: 1.3x faster as two
    #: halves of 16).
    _min_chunk_sequences = 16
    #: Sequences per piece at inference (several pieces per thread).
    _infer_piece = 32

    def __init__(self, module, *, criterion, optimizer, lr, max_epochs, batch_size,
                 train_split, train_crop_frames, augment, train_loss, lr_schedule,
                 precision, checkpoint_dir, checkpoint_every, patience, random_state, n_jobs,
                 worker_priority, device, verbose, **kwargs):
        kwargs.setdefault("iterator_train__shuffle", True)
        # inference batches do not change predictions (tracks never mix) and bigger ones
        # keep the per-step matrix products busy
        kwargs.setdefault("iterator_valid__batch_size", 256)
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size,
                         train_split=train_split, device=device, verbose=verbose, **kwargs)
        self.train_crop_frames = train_crop_frames
        self.augment = augment
        self.train_loss = train_loss
        self.lr_schedule = lr_schedule
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.patience = patience
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.worker_priority = worker_priority

    # -- parameters -----------------------------------------------------------------

    @classmethod
    def from_preset(cls, preset: str, **params):
        """Return an estimator with a named preset's parameters (:mod:`sklearn_genre.presets`).

        Parameters
        ----------
        preset : {"default", "seed", "rhythm"}
        **params
            Parameters that override the preset's.

        Examples
        --------
        >>> from sklearn_genre import CRNNClassifier
        >>> CRNNClassifier.from_preset("seed").lr
        0.01
        """
        from .presets import CLASSIFIER_PRESETS, PRESETS

        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}.")
        return cls(**{**CLASSIFIER_PRESETS[preset], **params})

    def get_params(self, deep=True, **kwargs):
        """Parameters of the estimator (skorch's, without its private bookkeeping)."""
        params = super().get_params(deep=deep, **kwargs)
        return {key: value for key, value in params.items() if not key.startswith("_")}

    def _check_settings(self):
        if self.train_loss not in TRAIN_LOSSES:
            raise ValueError(f"train_loss must be one of {TRAIN_LOSSES}, got "
                             f"{self.train_loss!r}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got "
                             f"{self.lr_schedule!r}.")
        if self.precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got "
                             f"{self.precision!r}.")
        if self.train_crop_frames is not None and (
                isinstance(self.train_crop_frames, bool)
                or not isinstance(self.train_crop_frames, Integral)
                or self.train_crop_frames < 1):
            raise ValueError(f"train_crop_frames must be a positive integer or None, got "
                             f"{self.train_crop_frames!r}.")
        return Augment.from_param(self.augment)

    # -- skorch hooks ---------------------------------------------------------------

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        position = [name for name, _ in callbacks].index("valid_loss") + 1
        callbacks[position:position] = self._scoring_callbacks()
        if self.checkpoint_dir is not None:
            callbacks.insert(-1, ("checkpoint", TrainingCheckpoint(
                self.checkpoint_dir, every=self.checkpoint_every)))
        if self.patience is not None and self.train_split is not None:
            callbacks.insert(-1, ("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.patience, load_best=True)))
        if isinstance(self.lr_schedule, str) and self.lr_schedule == "onecycle":
            callbacks.insert(-1, ("lr_schedule", OneCycle()))
        return callbacks

    def initialize_module(self):
        """Build the module, with ``n_mels`` and the number of outputs inferred in ``fit``."""
        kwargs = self.get_params_for("module")
        if hasattr(self, "n_mels_"):
            kwargs.setdefault("n_mels", self.n_mels_)
        n_outputs = self._n_outputs()
        if n_outputs is not None:
            kwargs.setdefault("n_classes", n_outputs)
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def initialize_criterion(self):
        """Build the criterion, with the class or tag weights computed in ``fit``."""
        kwargs = {**self._criterion_kwargs(), **self.get_params_for("criterion")}
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _autocast(self):
        """The precision context of every forward pass."""
        if self.precision != "bfloat16":
            return contextlib.nullcontext()
        device_type = "cuda" if str(self.device).startswith("cuda") else "cpu"
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)

    def _cpu_settings(self):
        """Threads and float settings of a fit or prediction, restored after it."""
        return cpu_runtime(n_jobs=self.n_jobs, device=self.device)

    def _n_chunks(self, x, fit_params, *, training=False) -> int:
        """How many threads share this batch (1: torch's own threading)."""
        if fit_params or not isinstance(x, torch.Tensor | np.ndarray):
            return 1
        if not str(self.device).startswith("cpu") or getattr(self, "accelerator", None):
            return 1  # GPUs, and processes under accelerate (DDP), run whole batches
        if training and not batch_splittable(self.module_):
            return 1  # batch normalization needs the whole batch
        n_sequences = len(x) * (x.shape[1] if x.ndim == 4 else 1)
        by_size = max(n_sequences // self._min_chunk_sequences, 1)
        return min(resolve_n_jobs(self.n_jobs), by_size, len(x))

    def _logits(self, x):
        """Window logits ``(batch, n_windows, n_outputs)`` in training with a loss per
        window, track logits ``(batch, n_outputs)`` otherwise."""
        module = self.module_
        if not hasattr(module, "window_logits"):  # a module of the user's: its own pooling
            return module(x)
        windows = module.window_logits(x if x.dim() == 4 else x.unsqueeze(1))
        if module.training and self.train_loss == "window":
            return windows
        return pool_windows(windows, getattr(module, "window_pooling", "mean"),
                            output=self.output)

    def _infer_one(self, x, **fit_params):
        with self._autocast():
            return self._logits(to_tensor(x, device=self.device)).float()

    def infer(self, x, **fit_params):
        """Forward pass (under bfloat16 autocast when ``precision="bfloat16"``).

        Without gradients (validation, prediction), the batch is split across
        ``n_jobs`` threads, in pieces of about ``_infer_piece`` sequences.
        """
        n_chunks = self._n_chunks(x, fit_params)
        if n_chunks > 1 and not torch.is_grad_enabled():
            x = to_tensor(x, device=self.device)
            per_track = x.shape[1] if x.ndim == 4 else 1
            n_pieces = min(max(n_chunks, -(-len(x) * per_track // self._infer_piece)), len(x))
            return torch.cat(chunked_forward(self._infer_one, x, n_pieces, grad=False,
                                             n_workers=n_chunks))
        return self._infer_one(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion over tracks, or over every window (``train_loss="window"``:
        each window carries its track's target)."""
        y_true = to_tensor(y_true, device=self.device)
        if y_pred.dim() == 3:
            n_windows = y_pred.shape[1]
            y_pred = y_pred.flatten(0, 1)
            y_true = y_true.repeat_interleave(n_windows, dim=0)
        return self.criterion_(y_pred, y_true)

    def _pooled(self, y_pred):
        """Track logits of a training step's output (for the cached training scores)."""
        if y_pred.dim() == 3:
            return pool_windows(y_pred, getattr(self.module_, "window_pooling", "mean"),
                                output=self.output)
        return y_pred

    def train_step_single(self, batch, **fit_params):
        """Forward, loss and gradients of one batch.

        With mixup (``augment``), pairs of tracks and their targets are mixed with one
        weight drawn for the batch (the loss is the mixed loss of the two targets). On
        CPU, a network without batch normalization splits batches of at least
        ``2 * _min_chunk_sequences`` sequences across ``n_jobs`` threads: each chunk
        runs forward and backward in its thread with its own dropout seed (drawn from
        torch's seeded RNG), the loss is taken over the whole batch (any criterion and
        class weights behave as without splitting) and the gradients are summed in
        chunk order.
        """
        Xi, yi = unpack_data(batch)
        self.module_.train(True)
        self.criterion_.train(True)
        x = to_tensor(Xi, device=self.device)
        y = to_tensor(yi, device=self.device)
        augment = Augment.from_param(self.augment)
        partner = weight = None
        if augment is not None and augment.mixup > 0 and len(x) > 1:
            weight, partner = mixup(augment.mixup, len(x))
            x = weight * x + (1 - weight) * x[partner]
        n_chunks = self._n_chunks(x, fit_params, training=True)
        if n_chunks <= 1:
            with whole_batch_threads():
                y_pred = self.infer(x, **fit_params)
                loss = self._mixed_loss(y_pred, y, x, partner, weight)
                loss.backward()
            return {"loss": loss.detach(), "y_pred": self._pooled(y_pred.detach())}
        seeds = torch.randint(0, 2**62, (n_chunks,)).tolist()
        outputs = chunked_forward(self._infer_one, x, n_chunks, grad=True, seeds=seeds)
        leaves = [output.detach().requires_grad_() for output in outputs]
        y_pred = torch.cat(leaves)
        loss = self._mixed_loss(y_pred, y, x, partner, weight)
        grad_outputs = torch.autograd.grad(loss, leaves)
        params = [p for p in self.module_.parameters() if p.requires_grad]
        for param, grad in zip(params, chunked_backward(outputs, grad_outputs, params)):
            if grad is not None:
                param.grad = grad if param.grad is None else param.grad + grad
        return {"loss": loss.detach(), "y_pred": self._pooled(y_pred.detach())}

    def _mixed_loss(self, y_pred, y, x, partner, weight):
        loss = self.get_loss(y_pred, y, X=x, training=True)
        if partner is None:
            return loss
        return weight * loss + (1 - weight) * self.get_loss(y_pred, y[partner], X=x,
                                                             training=True)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Run the epochs; after a resumed checkpoint, only those still missing."""
        if epochs is None and self.checkpoint_dir is not None:
            epochs = max(self.max_epochs - len(self.history), 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator (:func:`sklearn_genre._data.iterator_for`); training
        batches get random crops (``train_crop_frames``) and ``augment``."""
        batches = iterator_for(self, dataset, training=training)
        augment = Augment.from_param(self.augment)
        if training and (self.train_crop_frames is not None or
                         (augment is not None and augment.active)):
            return _Augmented(batches, self.train_crop_frames, augment)
        return batches

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation set.

        A :class:`skorch.dataset.ValidSplit` with a float ``cv`` is applied so that it
        works on small folds too: seeded from ``random_state`` when it has no seed of its
        own, at least one validation track per class when stratified (single-label
        targets), and unstratified when a class has a single track.
        """
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if not split:
            return dataset, None
        if not (isinstance(split, ValidSplit) and isinstance(split.cv, float) and y is not None):
            return split(dataset, y, **fit_params)
        labels = self._stratify_on(y)
        n_tracks = len(y)
        seed = (split.random_state if split.random_state is not None
                else getattr(self, "_fit_seed", None))
        stratified = labels is not None and split.stratified and \
            np.bincount(labels).min() >= 2
        n_classes = 1 if labels is None else len(np.unique(labels))
        n_valid = max(int(np.ceil(split.cv * n_tracks)), n_classes if stratified else 1)
        if n_tracks - n_valid < n_classes:
            raise ValueError(
                f"{n_tracks} tracks are too few for a validation split of {split.cv}"
                + (f" with {n_classes} classes" if labels is not None else "")
                + "; pass train_split=None to train on all of them.")
        splitter = (StratifiedShuffleSplit if stratified else ShuffleSplit)(
            n_splits=1, test_size=n_valid, random_state=seed)
        train, valid = next(splitter.split(np.zeros(n_tracks), labels if stratified else None))
        return Subset(dataset, train), Subset(dataset, valid)

    # -- scikit-learn API -----------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Train the network on tracks ``X`` with targets ``y``.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)] or LazyWindows
            Fixed-size mel-spectrograms or windows (float16 or float32).
        y : array-like [shape=(n_tracks,) or (n_tracks, n_tags)]
            One target per track (see the subclass).
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self : estimator
        """
        self._check_settings()
        X = check_windows(X, estimator_name=type(self).__name__)
        target = self._encode_target(y, len(X))
        self.n_mels_ = n_mels_of(X)
        # drawn once per fit: a RandomState instance advances once, not per use
        self._fit_seed = self._draw_seed()
        with _seeded(self._fit_seed, self.device), self._cpu_settings():
            super().fit(X, target, **fit_params)
        self._raise_if_diverged()
        self._after_fit(X, target)
        return self

    def _after_fit(self, X, target):
        """Hook run after training (the tagger tunes its thresholds here)."""

    def _raise_if_diverged(self):
        losses = [row.get("train_loss") for row in self.history_]
        if losses and losses[-1] is not None and not np.isfinite(losses[-1]):
            raise ValueError(
                "training diverged: the training loss is not finite. Normalize the input "
                "(MelNormalizer) or lower the learning rate (lr).")

    def _draw_seed(self):
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _check_predict_input(self, X):
        self._check_fitted()
        if is_dataset(X):  # skorch's own scoring callbacks pass its validated datasets
            return X
        return check_windows(X, n_mels=self.n_mels_, estimator_name=type(self).__name__)

    #: Fewest prediction batches for which a truthy ``verbose`` shows a progress bar.
    _progress_min_batches = 2

    def _prediction_progress(self, X, batch_size=None):
        """A progress bar over the tracks of a prediction (a no-op unless ``verbose`` and
        at least ``_progress_min_batches`` batches; never for skorch's own scoring)."""
        size = batch_size or getattr(self, "iterator_valid__batch_size", None) \
            or self.batch_size
        long = not is_dataset(X) and -(-len(X) // max(int(size), 1)) >= \
            self._progress_min_batches
        return progress(total=len(X), desc=f"{type(self).__name__} predicting", unit="track",
                        verbose=self.verbose if long else 0, leave=False)

    def _scores(self, X) -> np.ndarray:
        """Pooled scores ``(n_tracks, n_outputs)`` (softmax or sigmoid of track logits)."""
        X = self._check_predict_input(X)
        batches = []
        with self._cpu_settings(), self._prediction_progress(X) as bar:
            for logits in self.forward_iter(X, training=False):
                logits = self._pooled(logits.detach())
                batches.append(window_scores(logits.float().unsqueeze(1),
                                             output=self.output)[:, 0].cpu().numpy())
                bar.update(len(logits))
        scores = np.concatenate(batches).astype(np.float64)
        if not np.isfinite(scores).all():
            bad = int(np.flatnonzero(~np.isfinite(scores).all(axis=1))[0])
            raise ValueError(
                f"the network produced non-finite outputs for track {bad}: its input values "
                "are out of the range the model can handle. Normalize the input "
                "(MelNormalizer) before the estimator.")
        return scores

    def window_scores(self, X) -> np.ndarray:
        """Return the scores of every window of every track: class probabilities (softmax)
        for the classifier, independent tag probabilities (sigmoid) for the tagger.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames) or \
(n_tracks, n_mels, n_frames)] or LazyWindows

        Returns
        -------
        scores : np.ndarray [shape=(n_tracks, n_windows, n_outputs)]
            Columns follow ``classes_``. See :func:`sklearn_genre.genre_timeline` for
            windows with their start times.
        """
        X = self._check_predict_input(X)
        self.module_.eval()
        batches = []
        size = getattr(self, "iterator_valid__batch_size", None) or self.batch_size
        with torch.no_grad(), self._cpu_settings(), self._autocast(), \
                self._prediction_progress(X, size) as bar:
            for start in range(0, len(X), size):
                batch = X[start:start + size]
                if not isinstance(batch, np.ndarray):  # LazyWindows: read the tracks now
                    batch = batch.read_batch()
                batch = torch.as_tensor(batch).to(self.device)
                logits = self.module_.window_logits(batch)
                batches.append(window_scores(logits.float(), output=self.output).cpu().numpy())
                bar.update(len(batch))
        return np.concatenate(batches).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
