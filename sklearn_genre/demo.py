"""The main job: build the score corpus, tune, evaluate honestly, save and reload a model."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from .card import data_summary
from .datasets import INSTRUMENT_POOL, render_score_corpus
from .persistence import load, save
from .pipeline import make_baseline_pipeline, make_genre_pipeline
from .report import report

__all__ = ["DEMO_CORPUS", "DEMO_FOLDS", "DEMO_GRID", "DEMO_PARAMS", "group_holdout",
           "instrument_holdout", "plot_training_curves", "run_demo"]

#: The score corpus the demo renders: class-typical instruments that overlap between
#: classes, random recording effects, the bundled soundfont (nothing to install).
DEMO_CORPUS = {"n_per_class": 40, "clip_seconds": 10.0, "instrumentation": "genre",
               "effects": "random"}

#: The grid the demo tunes over, with ``StratifiedGroupKFold(DEMO_FOLDS)``.
DEMO_GRID = {"clf__lr": [0.001, 0.003]}
DEMO_FOLDS = 2

#: Pipeline parameters of the demo on top of the defaults: 15 epochs of 2 random windows
#: per clip instead of 40 of 4, so that the whole demo takes about 4 minutes on 2 cores.
DEMO_PARAMS = {"clf__max_epochs": 15, "window__train_windows": 2}


def group_holdout(y, groups, *, n_splits: int = 4, random_state: int = 0):
    """Return train and test indices with no group (piece, artist) on both sides.

    Parameters
    ----------
    y : array-like [shape=(n_tracks,)]
    groups : array-like [shape=(n_tracks,)]
    n_splits : int, default=4
        The test part is about ``1 / n_splits`` of the tracks, stratified by label.
    random_state : int, default=0

    Returns
    -------
    train, test : np.ndarray of int
    """
    cv = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
    train, test = next(cv.split(np.zeros(len(y)), y, groups))
    assert not set(np.asarray(groups)[train]) & set(np.asarray(groups)[test])
    return train, test


def instrument_holdout(instruments, groups, y=None, *, random_state: int = 0):
    """Split clips by instrument: train on some instruments, test on the others.

    Groups are kept disjoint as well: test clips whose piece also appears in training
    are dropped, so the test side is new music played by new instruments.

    Parameters
    ----------
    instruments : array-like of int [shape=(n_tracks,)]
        Each clip's General-MIDI program (``corpus.instruments``).
    groups : array-like [shape=(n_tracks,)]
    y : array-like [shape=(n_tracks,)] or None, default=None
        None: half of the programs, drawn at random, are held out. Given: the held-out
        half is drawn so that every class keeps clips on both sides (for corpora whose
        classes have their own instruments, ``instrumentation="genre"``); a
        ``ValueError`` says so when no such split exists.
    random_state : int, default=0

    Returns
    -------
    train, test : np.ndarray of int
    train_instruments, test_instruments : list of int
    """
    instruments = np.asarray(instruments)
    groups = np.asarray(groups)
    pool = np.unique(instruments)
    rng = np.random.default_rng(random_state)
    for _ in range(1000 if y is not None else 1):
        train_pool = np.sort(rng.choice(pool, size=len(pool) // 2, replace=False))
        seen = np.isin(instruments, train_pool)
        if y is None or all(seen[np.asarray(y) == label].any()
                            and (~seen[np.asarray(y) == label]).any()
                            for label in np.unique(y)):
            break
    else:
        raise ValueError("no half of the instruments leaves every class clips both seen "
                         "and unseen in training")
    train = np.flatnonzero(seen)
    test = np.flatnonzero(~seen)
    test = test[~np.isin(groups[test], groups[train])]
    return train, test, train_pool.tolist(), sorted(set(pool) - set(train_pool))


def plot_training_curves(history, path) -> None:
    """Draw loss and accuracy per epoch, train vs validation, to a PNG file.

    Parameters
    ----------
    history : skorch.History
        ``CRNNClassifier.history_``.
    path : str or path-like
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history[:, "epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history[:, "train_loss"], label="train")
    ax_acc.plot(epochs, history[:, "train_acc"], label="train")
    if "valid_loss" in history[-1]:
        ax_loss.plot(epochs, history[:, "valid_loss"], label="validation")
        ax_acc.plot(epochs, history[:, "valid_acc"], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _report_warnings(caught, log) -> int:
    """Log the warnings of a block; return how many said joblib lost a worker."""
    lost = 0
    for warning in caught:
        lost += "worker stopped" in str(warning.message)
        log(f"      warning: {warning.category.__name__}: {warning.message}")
    return lost


def _print_matrix(labels, matrix, log):
    width = max(len(label) for label in labels)
    log(" " * (width + 2) + " ".join(f"{label[:5]:>5}" for label in labels))
    for label, row in zip(labels, matrix):
        log(f"{label:>{width}}  " + " ".join(f"{v:5d}" for v in row))


def run_demo(
    *,
    out_dir="demo_output",
    n_per_class: int = DEMO_CORPUS["n_per_class"],
    clip_seconds: float = DEMO_CORPUS["clip_seconds"],
    data_home=None,
    n_jobs: int = -1,
    grid=None,
    pipeline_params=None,
    random_state: int = 0,
    log=print,
):
    """Run the demo end to end and return its figures.

    Parameters
    ----------
    out_dir : str or path-like, default="demo_output"
        Where the model (``genre.joblib``, and ``genre.sgm`` with its model card), the
        training curves (``training_curves.png``), the test-set report (``report.html``)
        and the figures (``results.json``) are written.
    n_per_class : int, default=40
        Clips per class of the score corpus (:data:`DEMO_CORPUS`).
    clip_seconds : float, default=10.0
    data_home : str or path-like or None
        Corpus cache folder.
    n_jobs : int, default=-1
        Parallel corpus rendering and grid-search fits.
    grid : dict or None
        Parameter grid; None is :data:`DEMO_GRID`.
    pipeline_params : dict or None
        Parameters of :func:`~sklearn_genre.make_genre_pipeline`; None is
        :data:`DEMO_PARAMS`.
    random_state : int, default=0
    log : callable, default=print

    Returns
    -------
    results : dict
        Test macro-F1 and accuracy of the tuned CRNN and of the baseline on a
        group-disjoint split and on a cross-instrument split, timings, paths.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = DEMO_GRID if grid is None else grid
    pipeline_params = DEMO_PARAMS if pipeline_params is None else pipeline_params
    params = {"clf__verbose": 0, **pipeline_params}

    log(f"[1/6] Score corpus ({n_per_class} clips of {clip_seconds:g} s per class, "
        "class-typical instruments, random recording effects)")
    corpus_args = {**DEMO_CORPUS, "n_per_class": n_per_class, "clip_seconds": clip_seconds}
    corpus = render_score_corpus(**corpus_args, data_home=data_home, n_jobs=n_jobs,
                                 random_state=random_state)
    X, y, groups = corpus.data, corpus.target, corpus.groups
    corpus_seconds = time.perf_counter() - started
    log(f"      {len(X)} clips, {len(set(groups))} pieces, classes {sorted(set(y))} "
        f"({corpus_seconds:.0f} s)")

    train, test = group_holdout(y, groups, random_state=random_state)
    X_train, X_test = [X[i] for i in train], [X[i] for i in test]
    y_train, y_test = y[train], y[test]
    log(f"[2/6] Group-disjoint split: {len(train)} train / {len(test)} test clips, "
        "no piece on both sides")

    log("[3/6] Baseline: logistic regression on per-band mean/std")
    baseline = make_baseline_pipeline().fit(X_train, y_train)
    baseline_f1 = f1_score(y_test, baseline.predict(X_test), average="macro")
    log(f"      test macro-F1 {baseline_f1:.3f}")

    log(f"[4/6] GridSearchCV over {grid} with StratifiedGroupKFold({DEMO_FOLDS}), "
        f"parameters {pipeline_params}")
    tune_started = time.perf_counter()
    search = GridSearchCV(make_genre_pipeline(random_state=random_state, **params), grid,
                          scoring="f1_macro",
                          cv=StratifiedGroupKFold(DEMO_FOLDS, shuffle=True,
                                                  random_state=random_state),
                          n_jobs=n_jobs, verbose=3)  # a line per fit, as they end
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X_train, y_train, groups=groups[train])
    lost_workers = _report_warnings(caught, log)
    tune_seconds = time.perf_counter() - tune_started
    log(f"      best {search.best_params_}, CV macro-F1 {search.best_score_:.3f} "
        f"({tune_seconds:.0f} s)")
    model = search.best_estimator_
    y_pred = model.predict(X_test)
    crnn_f1 = f1_score(y_test, y_pred, average="macro")
    log("[5/6] Test set (pieces never seen in training)")
    log(classification_report(y_test, y_pred, digits=3))
    labels = list(model.classes_)
    log("Confusion matrix (rows: true, columns: predicted)")
    _print_matrix(labels, confusion_matrix(y_test, y_pred, labels=labels), log)
    log(f"CRNN test macro-F1 {crnn_f1:.3f} vs baseline {baseline_f1:.3f}")

    log("[6/6] Cross-instrument split: train on some instruments, test on the others")
    tr_i, te_i, tr_pool, te_pool = instrument_holdout(corpus.instruments, groups, y,
                                                      random_state=random_state)
    from pretty_midi import program_to_instrument_name  # the corpus extra

    names = [INSTRUMENT_POOL.get(p) or program_to_instrument_name(p).lower() for p in te_pool]
    cross_model = make_genre_pipeline(random_state=random_state,
                                      **{**params, **search.best_params_})
    cross_model.fit([X[i] for i in tr_i], y[tr_i])
    cross_f1 = f1_score(y[te_i], cross_model.predict([X[i] for i in te_i]), average="macro")
    cross_base = make_baseline_pipeline().fit([X[i] for i in tr_i], y[tr_i])
    cross_base_f1 = f1_score(y[te_i], cross_base.predict([X[i] for i in te_i]),
                             average="macro")
    log(f"      test instruments {names}: CRNN macro-F1 {cross_f1:.3f}, "
        f"baseline {cross_base_f1:.3f} ({len(tr_i)} train / {len(te_i)} test clips)")

    model_path = out_dir / "genre.joblib"
    joblib.dump(model, model_path)
    curves_path = out_dir / "training_curves.png"
    plot_training_curves(model[-1].history_, curves_path)
    card = {
        "data": data_summary(
            y_train, groups=groups[train], collection=corpus.DESCR.splitlines()[0],
            split=f"the training part of a piece-disjoint holdout ({len(train)} of {len(X)} "
                  "clips; no piece in both parts)"),
        "scores": {"test_macro_f1": round(float(crnn_f1), 4),
                   "test_accuracy": round(float(np.mean(y_pred == y_test)), 4),
                   "cv_macro_f1": round(float(search.best_score_), 4),
                   "baseline_test_macro_f1": round(float(baseline_f1), 4),
                   "cross_instrument_macro_f1": round(float(cross_f1), 4)},
        "command": f"python -m sklearn_genre demo --n-per-class {n_per_class} "
                   f"--clip-seconds {clip_seconds:g} --random-state {random_state} "
                   f"(grid {grid}, parameters {pipeline_params})",
    }
    safe_path = save(model, out_dir / "genre.sgm", card=card)
    report_path = report(model, X_test, y_test, groups=groups[test],
                         path=out_dir / "report.html",
                         title="Demo model on unseen pieces of the score corpus")
    expected = model.predict_proba(X_test)
    # the same weights in the same process: equal to float32 rounding at most
    gap = max(float(np.abs(m.predict_proba(X_test) - expected).max())
              for m in (joblib.load(model_path), load(safe_path)))
    same = gap <= 1e-6
    log(f"Saved {model_path}, {safe_path} (safe format, with its model card), "
        f"{curves_path} and {report_path}; both reloaded models predict the same: {same} "
        f"(largest difference {gap:.1e})")
    if not same:
        raise RuntimeError("the reloaded model does not predict like the saved one")

    total = time.perf_counter() - started
    results = {
        "n_clips": len(X), "n_train": len(train), "n_test": len(test),
        "crnn_test_macro_f1": round(float(crnn_f1), 4),
        "crnn_train_accuracy": round(float(np.mean(model.predict(X_train) == y_train)), 4),
        "baseline_test_macro_f1": round(float(baseline_f1), 4),
        "crnn_cv_macro_f1": round(float(search.best_score_), 4),
        "best_params": {k: str(v) for k, v in search.best_params_.items()},
        "cross_instrument_crnn_macro_f1": round(float(cross_f1), 4),
        "cross_instrument_baseline_macro_f1": round(float(cross_base_f1), 4),
        "cross_instrument_test_instruments": names,
        "corpus_seconds": round(corpus_seconds, 1), "tune_seconds": round(tune_seconds, 1),
        "total_seconds": round(total, 1), "reload_identical": same,
        "lost_workers": lost_workers,
        "model_path": str(model_path), "safe_model_path": str(safe_path),
        "curves_path": str(curves_path), "report_path": str(report_path),
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    log(f"Done in {total:.0f} s (corpus {corpus_seconds:.0f} s, tuning {tune_seconds:.0f} s).")
    return results
