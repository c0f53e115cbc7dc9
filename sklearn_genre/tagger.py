"""Multi-label tagging: several tags per track, with the classifier's network."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EpochScoring

from ._base import CRNNBase
from .engine import ShortChunkCRNN

__all__ = ["CRNNTagger", "tag_metrics"]


def micro_f1_at_half(net, X, y):
    """Micro-F1 of ``net`` at threshold 0.5 (skorch scoring callbacks)."""
    proba = net.predict_proba(X)
    return float(f1_score(np.asarray(y) > 0.5, proba > 0.5, average="micro", zero_division=0))


def tag_metrics(y_true, proba, tags=None):
    """Return ROC-AUC and PR-AUC per tag and their macro means, as MTG-Jamendo reports them.

    The MTG-Jamendo benchmark ranks auto-tagging models by ROC-AUC and PR-AUC (average
    precision) computed per tag and averaged over tags (macro). Published anchors for its
    genre subset: 0.78 / 0.11 for the VGG-ish baseline, about 0.88 / 0.20 for the strongest
    published models.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_tracks, n_tags)] of 0/1
    proba : np.ndarray [shape=(n_tracks, n_tags)]
    tags : sequence of str or None
        Tag names (``CRNNTagger.classes_``).

    Returns
    -------
    metrics : dict
        ``roc_auc_macro``, ``pr_auc_macro`` and ``per_tag``: a pandas DataFrame with
        ``roc_auc``, ``pr_auc`` and ``support`` per tag (tags without both positive and
        negative tracks get NaN and are left out of the means).
    """
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score

    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    if y_true.shape != proba.shape or y_true.ndim != 2:
        raise ValueError(f"y_true {y_true.shape} and proba {proba.shape} must both be "
                         "(n_tracks, n_tags).")
    tags = list(tags) if tags is not None else [str(i) for i in range(y_true.shape[1])]
    rows = []
    for k, tag in enumerate(tags):
        column = y_true[:, k]
        defined = 0 < column.sum() < len(column)
        rows.append({
            "tag": tag, "support": int(column.sum()),
            "roc_auc": roc_auc_score(column, proba[:, k]) if defined else np.nan,
            "pr_auc": average_precision_score(column, proba[:, k]) if defined else np.nan,
        })
    per_tag = pd.DataFrame(rows).set_index("tag")
    return {"roc_auc_macro": float(per_tag.roc_auc.mean()),
            "pr_auc_macro": float(per_tag.pr_auc.mean()), "per_tag": per_tag}


class CRNNTagger(ClassifierMixin, CRNNBase):
    """Multi-label CRNN: one sigmoid output per tag, trained with binary cross-entropy.

    Shares :class:`CRNNClassifier`'s base (:class:`sklearn_genre._base.CRNNBase`):
    network, seeding, windows, augmentation and checkpoints. Window and track scores
    are independent sigmoids per tag. ``y`` is a list of tag lists
    (``[("rock", "pop"), ("jazz",), ...]``) or a binary indicator matrix
    ``(n_tracks, n_tags)``; ``predict`` answers in the same kind.

    Parameters
    ----------
    lr : float, default=0.003
        With ``module__dropout=0.1`` and ``optimizer__weight_decay=0.0`` by default: the
        original project's regularization keeps the tagger at the tag priors.
    pos_weight : None, "balanced" or array-like, default=None
        Weight of the positive examples of each tag in the loss; ``"balanced"`` uses
        negatives / positives per tag (what the original project tried).
    threshold : float or "tune", default=0.5
        Decision threshold of every tag. ``"tune"`` picks, after training, the threshold
        of each tag that maximizes its F1 on the internal validation split
        (``thresholds_``, saved with the model); :meth:`tune_thresholds` does it on data
        you give.
    **kwargs
        As :class:`CRNNClassifier` (``criterion`` defaults to ``BCEWithLogitsLoss``).
        With ``train_loss="window"`` every window carries its track's tags.

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_tags,)]
        Tag names (indices for indicator input).
    thresholds_ : np.ndarray [shape=(n_tags,)]
    pos_weight_ : np.ndarray [shape=(n_tags,)] or None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_genre import CRNNTagger
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 16, 32)).astype(np.float32)
    >>> y = [("rock",) if i % 3 == 0 else ("rock", "live") if i % 3 == 1 else ("jazz",)
    ...      for i in range(60)]
    >>> tagger = CRNNTagger(max_epochs=2, verbose=0, random_state=0).fit(X, y)
    >>> tagger.classes_.tolist(), tagger.predict_proba(X[:2]).shape
    (['jazz', 'live', 'rock'], (2, 3))
    """

    output = "sigmoid"

    def __init__(
        self,
        module=ShortChunkCRNN,
        *,
        criterion=torch.nn.BCEWithLogitsLoss,
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
        pos_weight=None,
        threshold=0.5,
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
        self.pos_weight = pos_weight
        self.threshold = threshold

    # -- target hooks of CRNNBase ---------------------------------------------------

    def _encode_target(self, y, n_tracks):
        if not (self.threshold == "tune" or
                (isinstance(self.threshold, int | float) and 0 < self.threshold < 1)):
            raise ValueError(f"threshold must be in (0, 1) or 'tune', got {self.threshold!r}.")
        Y = self._encode(y, n_tracks)
        self.pos_weight_ = self._compute_pos_weight(Y)
        self.thresholds_ = np.full(Y.shape[1], 0.5 if self.threshold == "tune"
                                   else float(self.threshold))
        return Y

    def _n_outputs(self):
        binarizer = getattr(self, "binarizer_", None)
        return None if binarizer is None else len(binarizer.classes_)

    def _criterion_kwargs(self):
        weight = getattr(self, "pos_weight_", None)
        return {} if weight is None else {"pos_weight": torch.as_tensor(
            weight, dtype=torch.float32)}

    def _stratify_on(self, y):
        return None  # multi-label targets: a random validation split

    def _scoring_callbacks(self):
        return [("valid_f1", EpochScoring(micro_f1_at_half, name="valid_f1",
                                          lower_is_better=False))]

    def _check_fitted(self):
        check_is_fitted(self, ["binarizer_", "module_"])

    def _after_fit(self, X, Y):
        if self.threshold == "tune" and self.train_split is not None:
            _, valid = self.get_split_datasets(X, Y)
            idx = np.asarray(valid.indices)
            self.tune_thresholds(X[idx], Y[idx])

    def _encode(self, y, n_tracks):
        if y is None:
            raise ValueError("CRNNTagger.fit requires y: tag lists or an indicator matrix.")
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
            kind = type_of_target(y)
            if kind != "multilabel-indicator":
                raise ValueError(f"y is a {y.shape} array of type {kind!r}; a binary indicator "
                                 "matrix (0/1, at least 2 columns) or a list of tag lists is "
                                 "expected.")
            self.y_kind_ = "indicator"
            binarizer = MultiLabelBinarizer(classes=list(range(y.shape[1]))).fit([[]])
            Y = y.astype(np.float32)
        else:
            tag_lists = list(y)
            for i, tags in enumerate(tag_lists):
                if isinstance(tags, str) or not hasattr(tags, "__iter__"):
                    raise ValueError(f"y[{i}] is {tags!r}; each track needs a list or tuple "
                                     "of tags (use CRNNClassifier for one label per track).")
                if any(t is None or (isinstance(t, float) and np.isnan(t)) for t in tags):
                    raise ValueError(f"y[{i}] contains a missing tag (None or NaN).")
            self.y_kind_ = "tags"
            binarizer = MultiLabelBinarizer().fit(tag_lists)
            Y = binarizer.transform(tag_lists).astype(np.float32)
        if len(Y) != n_tracks:
            raise ValueError(f"X has {n_tracks} tracks but y has {len(Y)} rows; they must "
                             "match.")
        if Y.shape[1] < 1:
            raise ValueError("y holds no tags at all.")
        self.binarizer_ = binarizer
        return Y

    def _compute_pos_weight(self, Y):
        if self.pos_weight is None:
            return None
        if isinstance(self.pos_weight, str):
            if self.pos_weight != "balanced":
                raise ValueError(f"pos_weight must be None, 'balanced' or an array, got "
                                 f"{self.pos_weight!r}.")
            positives = Y.sum(axis=0)
            return (len(Y) - positives) / np.maximum(positives, 1.0)
        weight = np.asarray(self.pos_weight, dtype=np.float64)
        if weight.shape != (Y.shape[1],):
            raise ValueError(f"pos_weight has shape {weight.shape}; expected ({Y.shape[1]},), "
                             "one weight per tag.")
        return weight

    # -- scikit-learn API -----------------------------------------------------------

    @property
    def classes_(self):
        check_is_fitted(self, "binarizer_")
        return self.binarizer_.classes_

    def fit(self, X, y, **fit_params):
        """Train on tracks ``X`` with tag lists or an indicator matrix ``y``.

        Parameters
        ----------
        X : np.ndarray [shape=(n_tracks, n_mels, n_frames) or \
(n_tracks, n_windows, n_mels, window_frames)] or LazyWindows
        y : list of sequences of tags, or np.ndarray [shape=(n_tracks, n_tags)] of 0/1

        Returns
        -------
        self : CRNNTagger
        """
        return super().fit(X, y, **fit_params)

    def predict_proba(self, X):
        """Return one probability per tag.

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_tags)]
            Columns follow ``classes_``; each is an independent probability.
        """
        return self._scores(X)

    def predict_proba_windows(self, X):
        """Return every window's tag probabilities (independent sigmoids, rows need not
        sum to 1).

        Returns
        -------
        proba : np.ndarray [shape=(n_tracks, n_windows, n_tags)]
        """
        return self.window_scores(X)

    def decision(self, X):
        """Return the 0/1 indicator matrix ``(n_tracks, n_tags)`` at ``thresholds_``."""
        return (self.predict_proba(X) >= self.thresholds_).astype(int)

    def predict(self, X):
        """Return the tags of every track, in the kind of target ``fit`` was given.

        Returns
        -------
        y_pred : list of tuples of tags, or np.ndarray [shape=(n_tracks, n_tags)] of 0/1
        """
        indicator = self.decision(X)
        if self.y_kind_ == "indicator":
            return indicator
        return self.binarizer_.inverse_transform(indicator)

    def tune_thresholds(self, X, y):
        """Set ``thresholds_`` to the per-tag thresholds maximizing F1 on ``(X, y)``.

        Parameters
        ----------
        X : validation tracks, as in ``predict``
        y : their tags (tag lists or indicator matrix, as in ``fit``)

        Returns
        -------
        self : CRNNTagger
        """
        check_is_fitted(self, "binarizer_")
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
            Y = y
        else:
            Y = self.binarizer_.transform(list(y))
        proba = self.predict_proba(X)
        grid = np.linspace(0.05, 0.95, 19)
        thresholds = np.array(self.thresholds_, dtype=np.float64)
        for k in range(Y.shape[1]):
            if Y[:, k].sum() == 0:
                continue
            scores = [f1_score(Y[:, k], proba[:, k] >= t, zero_division=0) for t in grid]
            thresholds[k] = grid[int(np.argmax(scores))]
        self.thresholds_ = thresholds
        return self

    def score(self, X, y, sample_weight=None):
        """Return the micro-averaged F1 of the predicted tags."""
        Y = y if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object \
            else self.binarizer_.transform(list(y))
        return float(f1_score(Y, self.decision(X), average="micro", zero_division=0,
                              sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags
