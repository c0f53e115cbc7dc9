"""A one-page evaluation report of a model on labelled tracks, as HTML or PNG.

:func:`report` scores a fitted model on ``(X, y)`` and writes one page: a summary line
(tracks, classes, groups), the classification report, the confusion matrix and per-class
precision and recall bars (classifiers), or per-tag precision-recall curves and the
MTG-Jamendo metrics of :func:`~sklearn_genre.tag_metrics` (taggers). The HTML page is
self-contained: its images are PNG files embedded as base64 data. Figures are drawn with
matplotlib's object API, so pyplot's global state and backend are left alone.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
)
from sklearn.pipeline import Pipeline

__all__ = ["report", "ReportError"]

_FORMATS = (".html", ".htm", ".png")


class ReportError(ValueError):
    """A report that cannot be written: the argument, what it was and what is expected."""


@dataclass
class _Evaluation:
    """What the page shows, computed once (the command line prints ``text`` too)."""

    title: str
    kind: str  # "classifier" or "tagger"
    classes: list
    text: str
    table: dict
    summary: list = field(default_factory=list)
    matrix: np.ndarray | None = None
    y_pred: np.ndarray | None = None  # classifier: the predicted labels
    y_true: np.ndarray | None = None  # tagger: indicator (n_tracks, n_tags)
    proba: np.ndarray | None = None
    tag_table: object = None


def _final(model):
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _is_tagger(model) -> bool:
    from .tagger import CRNNTagger

    return isinstance(_final(model), CRNNTagger)


def evaluate(model, X, y, *, groups=None, title=None) -> _Evaluation:
    """Score ``model`` on ``(X, y)``: everything :func:`report` draws."""
    n_tracks = len(X)
    if len(y) != n_tracks:
        raise ReportError(f"y has {len(y)} entries; expected one per track of X "
                          f"({n_tracks}).")
    if groups is not None and len(groups) != n_tracks:
        raise ReportError(f"groups has {len(groups)} entries; expected one per track of X "
                          f"({n_tracks}).")
    estimator = _final(model)
    title = title or f"Evaluation of {type(estimator).__name__}"
    summary = [f"{n_tracks} tracks"]
    if groups is not None:
        summary.append(f"{len({str(g) for g in groups})} groups (artists, pieces): "
                       "scores are honest only if no group was also in training")
    if _is_tagger(model):
        return _evaluate_tagger(model, estimator, X, y, title, summary)
    y_true = np.asarray(y)
    y_pred = np.asarray(model.predict(X))
    classes = [c for c in getattr(model, "classes_", np.unique(np.r_[y_true, y_pred]))]
    table = classification_report(y_true, y_pred, labels=classes, output_dict=True,
                                  zero_division=0)
    text = classification_report(y_true, y_pred, labels=classes, digits=3, zero_division=0)
    summary[0] += f", {len(classes)} classes"
    macro_f1 = f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
    summary.insert(1, f"accuracy {accuracy_score(y_true, y_pred):.3f}, macro-F1 "
                      f"{macro_f1:.3f}")
    return _Evaluation(title=title, kind="classifier", classes=[str(c) for c in classes],
                       text=text, table=table, summary=summary, y_pred=y_pred,
                       matrix=confusion_matrix(y_true, y_pred, labels=classes))


def _evaluate_tagger(model, tagger, X, y, title, summary) -> _Evaluation:
    from .tagger import tag_metrics

    if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        Y = y.astype(int)
    else:
        Y = tagger.binarizer_.transform(list(y))
    proba = np.asarray(model.predict_proba(X))
    decided = (proba >= tagger.thresholds_).astype(int)
    tags = [str(t) for t in tagger.classes_]
    table = classification_report(Y, decided, target_names=tags, output_dict=True,
                                  zero_division=0)
    text = classification_report(Y, decided, target_names=tags, digits=3, zero_division=0)
    metrics = tag_metrics(Y, proba, tags)
    summary[0] += f", {len(tags)} tags"
    summary.insert(1, f"ROC-AUC (macro) {metrics['roc_auc_macro']:.3f}, PR-AUC (macro) "
                      f"{metrics['pr_auc_macro']:.3f}, micro-F1 "
                      f"{f1_score(Y, decided, average='micro', zero_division=0):.3f}")
    return _Evaluation(title=title, kind="tagger", classes=tags, text=text, table=table,
                       summary=summary, y_true=Y, proba=proba, tag_table=metrics["per_tag"])


# -- figures -------------------------------------------------------------------------

def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _draw_matrix(ax, evaluation):
    matrix, labels = evaluation.matrix, evaluation.classes
    ax.imshow(matrix, cmap="Blues")  # the counts are written in the cells: no colour bar
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted",
           ylabel="true", title="Confusion matrix")
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticklabels(labels)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center",
                color="white" if value > threshold else "black", fontsize=8)


def _draw_bars(ax, evaluation):
    labels = evaluation.classes
    positions = np.arange(len(labels))
    for offset, metric in ((-0.2, "precision"), (0.2, "recall")):
        values = [evaluation.table[label][metric] for label in labels]
        ax.bar(positions + offset, values, width=0.4, label=metric)
    ax.set(xticks=positions, ylim=(0, 1.15), yticks=np.linspace(0, 1, 6), ylabel="score",
           title=f"Precision and recall per {'tag' if evaluation.kind == 'tagger' else 'class'}")
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.legend(loc="upper right", ncols=2)
    ax.grid(axis="y", alpha=0.3)


def _draw_pr_curves(ax, evaluation):
    Y, proba = evaluation.y_true, evaluation.proba
    for k, tag in enumerate(evaluation.classes):
        if 0 < Y[:, k].sum() < len(Y):
            precision, recall, _ = precision_recall_curve(Y[:, k], proba[:, k])
            ax.plot(recall, precision, label=tag)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.05),
           title="Precision-recall curve per tag")
    ax.legend(fontsize=7, loc="lower left", ncols=2 if len(evaluation.classes) > 8 else 1)
    ax.grid(alpha=0.3)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _images(evaluation) -> list[tuple[str, bytes]]:
    n = len(evaluation.classes)
    size = min(max(4.0, 0.55 * n + 2.5), 14.0)
    images = []
    if evaluation.kind == "classifier":
        fig = _figure(size + 1, size)
        _draw_matrix(fig.add_subplot(), evaluation)
        images.append(("Confusion matrix (rows: true, columns: predicted)", _png(fig)))
    else:
        fig = _figure(7, 5)
        _draw_pr_curves(fig.add_subplot(), evaluation)
        images.append(("Precision-recall curves", _png(fig)))
    fig = _figure(min(max(6.0, 0.6 * n + 2), 16.0), 4)
    _draw_bars(fig.add_subplot(), evaluation)
    images.append(("Precision and recall", _png(fig)))
    return images


def _page_png(evaluation) -> bytes:
    n = len(evaluation.classes)
    side = min(max(4.5, 0.55 * n + 3), 12.0)
    fig = _figure(2 * side + 1, side + 4)
    grid = fig.add_gridspec(2, 2, height_ratios=[side, 3.5])
    text_ax = fig.add_subplot(grid[0, 0])
    text_ax.axis("off")
    header = "\n".join([evaluation.title, *evaluation.summary])
    text_ax.text(0, 1, header, va="top", fontsize=11)
    text_ax.text(0, 0.8, evaluation.text, va="top", family="monospace",
                 fontsize=max(6, 10 - n // 6))
    draw = _draw_matrix if evaluation.kind == "classifier" else _draw_pr_curves
    draw(fig.add_subplot(grid[0, 1]), evaluation)
    _draw_bars(fig.add_subplot(grid[1, :]), evaluation)
    return _png(fig)


# -- pages ---------------------------------------------------------------------------

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th:first-child,td:first-child{text-align:left}img{max-width:100%}
figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}"""


def _html_table(evaluation) -> str:
    import pandas as pd

    rows = {key: value for key, value in evaluation.table.items() if isinstance(value, dict)}
    frame = pd.DataFrame(rows).T
    frame["support"] = frame["support"].astype(int)
    parts = [frame.to_html(float_format=lambda v: f"{v:.3f}", border=0)]
    if evaluation.tag_table is not None:
        parts += ["<h2>Per-tag ROC-AUC and PR-AUC</h2>",
                  evaluation.tag_table.to_html(float_format=lambda v: f"{v:.3f}", border=0,
                                               na_rep="n/a")]
    return "\n".join(parts)


def _page_html(evaluation) -> str:
    figures = "\n".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
        for caption, data in _images(evaluation))
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in evaluation.summary)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(evaluation.title)}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>{html.escape(evaluation.title)}</h1>\n<ul>{summary}</ul>\n"
            f"<h2>Classification report</h2>\n{_html_table(evaluation)}\n{figures}\n"
            "</body></html>\n")


def write_page(evaluation, path) -> Path:
    """Write an evaluation as an HTML or PNG page (by the suffix of ``path``)."""
    from .datasets._base import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ReportError(f"path must end in one of {_FORMATS}; got {str(path)!r}.")
    if suffix == ".png":
        with atomic_write(path) as handle:
            handle.write(_page_png(evaluation))
    else:
        with atomic_write(path) as handle:
            handle.write(_page_html(evaluation).encode("utf-8"))
    return path


def report(model, X, y, *, groups=None, path="report.html", title=None) -> Path:
    """Write a one-page evaluation report of a fitted model on labelled tracks.

    Parameters
    ----------
    model : Pipeline or estimator
        Fitted: a classifier (``predict``, ``classes_``) such as the genre pipeline, or a
        :class:`~sklearn_genre.CRNNTagger` (or a pipeline ending in one).
    X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
        What ``model.predict`` takes.
    y : array-like [shape=(n_tracks,)] or tag lists or np.ndarray [shape=(n_tracks, n_tags)]
        The true labels (tags for a tagger).
    groups : array-like [shape=(n_tracks,)] or None
        Group (artist, piece) of each track: the page says how many groups there were.
    path : str or path-like, default="report.html"
        ``*.html``: a self-contained page (tables, images embedded as PNG); ``*.png``: the
        same on one image.
    title : str or None

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ReportError
        ``path`` has another suffix, or ``y`` or ``groups`` do not have one entry per
        track.

    Examples
    --------
    >>> from sklearn_genre import report
    >>> report(fitted_pipeline, X_test, y_test, groups=groups_test,
    ...        path="report.html")                                   # doctest: +SKIP
    PosixPath('report.html')
    """
    if Path(path).suffix.lower() not in _FORMATS:  # before the (long) predictions
        raise ReportError(f"path must end in one of {_FORMATS}; got {str(path)!r}.")
    return write_page(evaluate(model, X, y, groups=groups, title=title), path)
