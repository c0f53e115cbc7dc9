"""Multi-class CRNN vs one-vs-rest binary CRNNs vs the original layout vs a classical baseline.

Runs on the score corpus with group-disjoint cross-validation (``StratifiedGroupKFold``: no
piece in both train and test) over several seeds, and reports mean +- std of accuracy,
balanced accuracy and macro-F1, fit time, prediction throughput (tracks/s) and the peak
resident memory of the process that evaluated each model (each model runs in its own
child process). Prints a markdown table, writes JSON and a PNG chart.

Models:
- ``crnn``: ``make_genre_pipeline()``, the library's default;
- ``crnn_tuned``: the same inside ``GridSearchCV`` (``StratifiedGroupKFold(2)`` inside
  each training fold) over the learning rate;
- ``ovr``: ``OneVsRestClassifier(make_genre_pipeline())``, one binary CRNN per class (the
  original authors' ensemble idea), made by scikit-learn, not by hand;
- ``original``: the original project's model with its LSTM along the batch axis, trained
  as it was (``benchmarks/original_model.py``);
- ``baseline``: logistic regression on per-band mean/std (scikit-learn only);
- ``seed_ensemble`` (why the one-vs-rest ensemble wins): a soft-voting
  ``VotingClassifier`` of 7 default multi-class pipelines differing only in their seed,
  the one-vs-rest ensemble's compute (7 CRNNs) without its binary decomposition;
- ``crnn_long``: one default pipeline trained 3x longer (180 epochs).

The CRNN models are built from a preset of :mod:`sklearn_genre.presets` (``--preset``,
default ``rhythm``: the 1-D CNN-LSTM for the rhythm-only shared-instrument corpus, which
the published figures used); ``--preset default`` runs the library's defaults.

Usage::

    python benchmarks/compare_models.py                       # published figures
    python benchmarks/compare_models.py --preset default      # the current defaults
    python benchmarks/compare_models.py --quick               # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = ("crnn", "crnn_tuned", "ovr", "original", "baseline", "seed_ensemble", "crnn_long")
DEFAULT_MODELS = MODELS[:5]
EXPENSIVE = ("crnn_tuned", "ovr", "seed_ensemble", "crnn_long")
LABELS = {
    "crnn": "CRNN (multi-class, default pipeline)",
    "crnn_tuned": "CRNN tuned with GridSearchCV",
    "ovr": "one-vs-rest ensemble of binary CRNNs",
    "original": "original project's model (LSTM along the batch)",
    "baseline": "logistic regression on band mean/std",
    "seed_ensemble": "soft vote of 7 multi-class CRNNs (seeds)",
    "crnn_long": "CRNN (multi-class) trained 3x longer",
}


def build(name: str, seed: int, quick: bool, groups_train=None, preset: str = "rhythm"):
    """Return an unfitted estimator for model ``name``."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression  # noqa: F401
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.multiclass import OneVsRestClassifier

    from sklearn_genre import make_baseline_pipeline
    from sklearn_genre import make_genre_pipeline as make_pipeline

    sys.path.insert(0, str(HERE))
    from original_model import make_original_pipeline

    extra = {"clf__max_epochs": 2} if quick else {}
    params = {"clf__random_state": seed, "clf__verbose": 0, **extra}

    def make_genre_pipeline(**kwargs):  # the benchmark's preset
        return make_pipeline(preset, **kwargs)

    if name == "crnn":
        return make_genre_pipeline(**params)
    if name == "crnn_tuned":
        return GridSearchCV(make_genre_pipeline(**params), {"clf__lr": [0.003, 0.01]},
                            scoring="f1_macro",
                            cv=StratifiedGroupKFold(2, shuffle=True, random_state=seed))
    if name == "ovr":
        return OneVsRestClassifier(make_genre_pipeline(**params))
    if name == "original":
        return make_original_pipeline(random_state=seed, max_epochs=2 if quick else 100)
    if name == "baseline":
        return make_baseline_pipeline()
    if name == "seed_ensemble":
        members = [(f"seed{k}", make_genre_pipeline(**{**params,
                                                        "clf__random_state": 100 * seed + k}))
                   for k in range(7)]
        return VotingClassifier(members, voting="soft")
    if name == "crnn_long":
        return make_genre_pipeline(**{**params, "clf__max_epochs": 2 if quick else 180})
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def evaluate(name, corpus_kwargs, seeds, n_folds, quick, preset="rhythm"):
    """Evaluate one model over seeds x folds (runs in a child process)."""
    import torch
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    from sklearn_genre.datasets import render_score_corpus

    if quick:
        torch.set_num_threads(1)
    corpus = render_score_corpus(**corpus_kwargs, verbose=False)
    X, y, groups = corpus.data, corpus.target, corpus.groups
    rss_after_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for seed in seeds:
        cv = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        for fold, (train, test) in enumerate(cv.split(X, y, groups)):
            if quick and fold > 0:
                break  # --quick: one fold shows that every model runs
            assert not set(groups[train]) & set(groups[test])
            model = build(name, seed, quick, preset=preset)
            X_train, X_test = [X[i] for i in train], [X[i] for i in test]
            start = time.perf_counter()
            if name == "crnn_tuned":
                model.fit(X_train, y[train], groups=groups[train])
            else:
                model.fit(X_train, y[train])
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            y_pred = model.predict(X_test)
            predict_seconds = time.perf_counter() - start
            rows.append({
                "seed": seed, "fold": fold,
                "accuracy": accuracy_score(y[test], y_pred),
                "balanced_accuracy": balanced_accuracy_score(y[test], y_pred),
                "macro_f1": f1_score(y[test], y_pred, average="macro"),
                "fit_seconds": fit_seconds,
                "tracks_per_second": len(test) / predict_seconds,
            })
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "peak_rss_mb": peak, "rss_after_data_mb": rss_after_data}


def summarize(name, result):
    rows = result["rows"]
    out = {"model": name, "label": LABELS[name], "n_runs": len(rows),
           "peak_rss_mb": round(result["peak_rss_mb"], 0),
           "rss_after_data_mb": round(result["rss_after_data_mb"], 0)}
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "fit_seconds",
                "tracks_per_second"):
        values = np.array([r[key] for r in rows])
        out[key] = round(float(values.mean()), 4)
        out[key + "_std"] = round(float(values.std()), 4)
    return out


def chart(summaries, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_f1, ax_time) = plt.subplots(1, 2, figsize=(11, 4))
    names = [s["model"] for s in summaries]
    ax_f1.barh(names, [s["macro_f1"] for s in summaries],
               xerr=[s["macro_f1_std"] for s in summaries], color="tab:blue")
    ax_f1.set(xlabel="macro-F1 (group-disjoint CV)", xlim=(0, 1), title="Accuracy")
    ax_time.barh(names, [s["fit_seconds"] for s in summaries], color="tab:orange")
    ax_time.set(xlabel="fit time per fold (s)", xscale="log", title="Cost")
    for ax in (ax_f1, ax_time):
        ax.invert_yaxis()
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=MODELS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--expensive-seeds", type=int, nargs="+", default=[0],
                        help="seeds for crnn_tuned and ovr (each costs several CRNN fits)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--n-per-class", type=int, default=120)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--preset", default="rhythm", choices=["default", "seed", "rhythm"],
                        help="preset of the CRNN models (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny corpus, 2 epochs, one seed, one fold: runs in seconds, for CI")
    parser.add_argument("--out", default=str(HERE / "results" / "compare_models.json"))
    parser.add_argument("--chart", default=None, help="PNG path (default: next to --out)")
    args = parser.parse_args(argv)
    corpus_kwargs = {"n_per_class": args.n_per_class, "data_home": args.data_home}
    if args.quick:
        corpus_kwargs.update(classes=["chorale", "jig", "reel"], n_per_class=8,
                             clip_seconds=6.0)
        args.seeds, args.expensive_seeds, args.folds = args.seeds[:1], args.seeds[:1], 2

    from sklearn_genre.datasets import render_score_corpus

    render_score_corpus(**corpus_kwargs, n_jobs=-1, verbose=not args.quick)  # fill the cache
    summaries = []
    context = multiprocessing.get_context("spawn")
    for name in args.models:
        started = time.perf_counter()
        seeds = args.expensive_seeds if name in EXPENSIVE else args.seeds
        job = (name, corpus_kwargs, seeds, args.folds, args.quick, args.preset)
        if args.quick:  # in this process: no start-up per model (peak RSS is shared)
            result = evaluate(*job)
        else:
            with context.Pool(1) as pool:  # own process: own peak memory
                result = pool.apply(evaluate, job)
        summaries.append(summarize(name, result))
        print(f"{name}: macro-F1 {summaries[-1]['macro_f1']:.3f} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    header = ("| model | accuracy | balanced acc. | macro-F1 | fit s/fold | predict tracks/s "
              "| peak RSS MB |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(
            f"| {s['label']} | {s['accuracy']:.3f} +- {s['accuracy_std']:.3f} "
            f"| {s['balanced_accuracy']:.3f} +- {s['balanced_accuracy_std']:.3f} "
            f"| {s['macro_f1']:.3f} +- {s['macro_f1_std']:.3f} | {s['fit_seconds']:.1f} "
            f"| {s['tracks_per_second']:.0f} | {s['peak_rss_mb']:.0f} |")
    table = "\n".join(lines)
    print(table)
    import sklearn
    import torch

    record = {
        "command": "python benchmarks/compare_models.py " + " ".join(argv or sys.argv[1:]),
        "seeds": args.seeds, "expensive_seeds": args.expensive_seeds, "folds": args.folds,
        "preset": args.preset,
        "corpus": {
            k: v for k, v in corpus_kwargs.items() if k != "data_home"},
        "machine": {"cpu_count": multiprocessing.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "sklearn": sklearn.__version__},
        "results": summaries, "table": table,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    chart(summaries, Path(args.chart) if args.chart else out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    main()
