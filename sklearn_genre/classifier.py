"""The single-label classifier: labels in and out, class weights, softmax scores."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EpochScoring

from ._base import CRNNBase
from ._callbacks import index_accuracy
from .engine import ShortChunkCRNN

__all__ = ["CRNNClassifier"]


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


class CRNNClassifier(ClassifierMixin, CRNNBase):
    """CNN-RNN genre classifier for mel-spectrograms, scikit-learn compatible.

    A skorch net (over :class:`sklearn_genre._base.CRNNBase`, shared with
    :class:`~sklearn_genre.CRNNTagger`) around a network of :mod:`sklearn_genre.engine`
    that takes labels of any kind (strings stay strings), infers ``n_mels`` and the
    number of classes in ``fit``, seeds every source of randomness from
    ``random_state``, can stop early on a stratified validation split and restore the
    best weights.

    Every setting of the network is reachable as ``module__<name>`` (for instance
    ``module__channels``, ``module__hidden_size``, ``module__rnn``,
    ``module__time_pooling``, ``module__window_pooling``), every setting of the optimizer
    as ``optimizer__<name>``, so ``GridSearchCV`` can tune them. The defaults are the
    configuration that measured best on real recordings and on the score corpus
    (docs/benchmarks.md): :class:`~sklearn_genre.engine.ShortChunkCRNN` (2-D
    convolutions with batch norm, a bidirectional GRU over time), a loss on every
    window, Adam with lr 0.001 and weight decay 0.0001 on a one-cycle schedule, 40
    epochs, no validation split. The original project's hyper-parameters are the
    ``"seed"`` preset: ``CRNNClassifier.from_preset("seed")``.

    Parameters
    ----------
    module : torch.nn.Module class, default=ShortChunkCRNN
        Any module taking ``(batch, n_windows, n_mels, n_frames)`` windows with
        ``n_mels`` and ``n_classes`` arguments; with a ``window_logits`` method the
        estimator pools the windows itself (see :mod:`sklearn_genre.engine.pooling`).
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=0.001
        The peak learning rate of the one-cycle schedule (or the fixed rate).
    max_epochs : int, default=40
    batch_size : int, default=8
        Tracks per batch; each brings its windows (8 tracks x 4 training windows of the
        default pipeline = 32 windows).
    train_split : callable or None, default=None
        Internal validation split for the validation columns of ``history_`` and early
        stopping (``patience``), e.g. ``ValidSplit(0.2, stratified=True)``. A
        :class:`skorch.dataset.ValidSplit` without its own ``random_state`` is seeded
        from ``random_state``. None trains on all the data (on small sets a held-out
        fifth is a fifth of the data thrown away).
    train_crop_frames : int or None, default=None
        Augmentation: during training, every window is replaced by a random crop of
        this many frames, drawn anew each batch (seeded by ``random_state``);
        validation and prediction use the whole windows. None trains on whole windows.
    augment : None, dict or sklearn_genre.engine.Augment, default=None
        Further training-time augmentation, drawn per window from the seeded RNG:
        time and frequency masks, gain, spectral tilt, band shift (pitch), time stretch
        (tempo), mixup (see :class:`~sklearn_genre.engine.Augment`; a dict of its
        fields, e.g. ``{"freq_masks": 2, "gain": 0.3}``, is tunable by GridSearchCV).
    train_loss : {"track", "window"}, default="window"
        ``"track"``: the loss of the pooled prediction of each track; ``"window"``: the
        loss of every window, each carrying its track's label (short-chunk training).
        Prediction pools the windows either way.
    lr_schedule : {"onecycle", None}, default="onecycle"
        ``"onecycle"``: the learning rate rises to ``lr`` over the first 30 % of the
        training steps, then anneals to nearly zero by ``max_epochs``
        (:class:`sklearn_genre._callbacks.OneCycle`); None keeps ``lr`` fixed.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the network under torch autocast (CPU AMX/AVX-512 bf16 or
        CUDA), faster on recent hardware; predictions then differ from float32 slightly
        (see docs/benchmarks.md for the measured speed and accuracy).
    checkpoint_dir : str, path-like or None, default=None
        Save the training state there every ``checkpoint_every`` epochs; a later
        ``fit`` with the same settings resumes from it and trains only the remaining
        epochs (see :class:`TrainingCheckpoint`). Use one folder per model.
    checkpoint_every : int, default=1
    patience : int or None, default=None
        With a ``train_split``: epochs without improvement of the validation loss before
        training stops; the weights of the best epoch are restored. None never stops
        early.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the loss, as in scikit-learn.
    random_state : int, RandomState or None, default=None
        Seeds weight initialization, dropout, the validation split and the batch
        order. The same seed, data and ``n_jobs`` give identical predictions.
    n_jobs : int or None, default=None
        On CPU, for a network without batch normalization (the ``"seed"`` preset's),
        every training batch of at least 32 sequences (tracks x windows) is split into
        up to this many chunks of at least 16 sequences that run in parallel threads,
        one core each, and their gradients are summed exactly (about 1.3x faster
        training on 2 cores than letting torch spread each small LSTM step over the
        cores; smaller batches run whole). Prediction batches are split for every
        network. None means torch's thread count
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
        1 prints a table row per epoch and shows a progress bar on standard error while
        predicting two or more batches (``iterator_valid__batch_size``, 256 tracks); 0 is
        silent.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter, ``module__*``,
        ``optimizer__*`` (default ``optimizer__weight_decay=0.0001``),
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
    module_ : torch.nn.Module
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
        module=ShortChunkCRNN,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.001,
        max_epochs=40,
        batch_size=8,
        train_split=None,
        train_crop_frames=None,
        augment=None,
        train_loss="window",
        lr_schedule="onecycle",
        precision="float32",
        checkpoint_dir=None,
        checkpoint_every=1,
        patience=None,
        class_weight=None,
        random_state=None,
        n_jobs=None,
        worker_priority="idle",
        device="cpu",
        verbose=1,
        **kwargs,
    ):
        kwargs.setdefault("optimizer__weight_decay", 1e-4)
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, train_split=train_split,
            train_crop_frames=train_crop_frames, augment=augment, train_loss=train_loss,
            lr_schedule=lr_schedule, precision=precision, checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every, patience=patience, random_state=random_state,
            n_jobs=n_jobs, worker_priority=worker_priority, device=device, verbose=verbose,
            **kwargs)
        self.class_weight = class_weight

    # -- target hooks of CRNNBase ---------------------------------------------------

    def _encode_target(self, y, n_tracks):
        y = _check_labels(y, n_tracks)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"y has a single class ({encoder.classes_[0]!r}); a classifier needs at "
                "least 2 classes.")
        self.label_encoder_ = encoder
        y_encoded = encoder.transform(y).astype(np.int64)
        self.class_weight_ = self._compute_class_weight(y_encoded, len(encoder.classes_))
        return y_encoded

    def _n_outputs(self):
        encoder = getattr(self, "label_encoder_", None)
        return None if encoder is None else len(encoder.classes_)

    def _criterion_kwargs(self):
        weight = getattr(self, "class_weight_", None)
        return {} if weight is None else {"weight": torch.as_tensor(weight,
                                                                    dtype=torch.float32)}

    def _stratify_on(self, y):
        return np.asarray(y)

    def _scoring_callbacks(self):
        # skorch's scoring sees encoded targets, so accuracy is computed on class indices;
        # train accuracy comes from the cached training predictions: curves for free.
        return [("train_acc", EpochScoring(index_accuracy, name="train_acc",
                                           lower_is_better=False, on_train=True)),
                ("valid_acc", EpochScoring(index_accuracy, name="valid_acc",
                                           lower_is_better=False))]

    def _check_fitted(self):
        check_is_fitted(self, ["label_encoder_", "module_"])

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

    # -- scikit-learn API -----------------------------------------------------------

    @property
    def classes_(self):
        check_is_fitted(self, "label_encoder_")
        return self.label_encoder_.classes_

    def predict_proba(self, X):
        """Return class probabilities per track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)] or LazyWindows

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_classes)]
            Columns follow ``classes_``; rows sum to 1.
        """
        proba = self._scores(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_proba_windows(self, X):
        """Return class probabilities for every window of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_windows, n_mels, window_frames) or \
(n_tracks, n_mels, n_frames)] or LazyWindows

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_windows, n_classes)]
            Columns follow ``classes_``; each window's row sums to 1. See
            :func:`sklearn_genre.genre_timeline` for windows with their start times.
        """
        proba = self.window_scores(X)
        return proba / proba.sum(axis=-1, keepdims=True)

    def predict(self, X):
        """Return the predicted label of every track.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)] or LazyWindows

        Returns
        -------
        y_pred : np.ndarray [shape=(n_tracks,)]
            Labels from ``classes_``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
