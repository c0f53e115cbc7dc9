"""Multi-label tagging: one multi-label CRNN vs a one-vs-rest ensemble of binary CRNNs.

On the multi-label score corpus (tags from the scores' own headers: style, metre family,
mode, texture), with group-disjoint cross-validation (no piece on both sides). Reports
macro ROC-AUC and PR-AUC over tags (computed as the MTG-Jamendo benchmark does, with
``sklearn_genre.tag_metrics``) and fit time; prints a markdown table and writes JSON.

Usage::

    python benchmarks/compare_multilabel.py            # published figures
    python benchmarks/compare_multilabel.py --quick    # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=40)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--preset", default="rhythm", choices=["default", "seed", "rhythm"],
                        help="preset of both models (default: %(default)s, the one the "
                             "published figures used)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out",
                        default=str(Path(__file__).parent / "results" / "multilabel.json"))
    args = parser.parse_args(argv)

    from sklearn.model_selection import GroupKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    from sklearn_genre import make_genre_pipeline, make_tagging_pipeline, tag_metrics
    from sklearn_genre.datasets import render_score_corpus

    corpus_kwargs = {"n_per_class": args.n_per_class, "data_home": args.data_home,
                     "n_jobs": -1, "verbose": False}
    extra = {}
    if args.quick:
        corpus_kwargs.update(classes=["chorale", "jig", "reel"], n_per_class=8,
                             clip_seconds=8.0)
        extra = {"clf__max_epochs": 2}
        args.folds = 2
    corpus = render_score_corpus(**corpus_kwargs)
    binarizer = MultiLabelBinarizer().fit(corpus.tags)
    Y = binarizer.transform(corpus.tags)
    X, groups = corpus.data, corpus.groups
    splits = list(GroupKFold(args.folds).split(X, Y, groups))
    # keep tags with positives and negatives in every training and test fold: AUC needs both,
    # and OneVsRestClassifier replaces a constant tag by a _ConstantPredictor that only
    # accepts 2-D input
    keep = np.ones(Y.shape[1], dtype=bool)
    for part in (i for split in splits for i in split):
        keep &= (Y[part].sum(axis=0) > 0) & (Y[part].sum(axis=0) < len(part))
    Y, tags = Y[:, keep], binarizer.classes_[keep]
    models = {
        "multi-label CRNN (CRNNTagger)": lambda: make_tagging_pipeline(
            args.preset, clf__random_state=args.seed, clf__verbose=0, **extra),
        "one-vs-rest binary CRNNs": lambda: OneVsRestClassifier(make_genre_pipeline(
            args.preset, clf__random_state=args.seed, clf__verbose=0, **extra)),
    }
    results = []
    for name, make in models.items():
        rows = []
        for train, test in splits:
            model = make()
            start = time.perf_counter()
            model.fit([X[i] for i in train], Y[train])
            fit_seconds = time.perf_counter() - start
            proba = model.predict_proba([X[i] for i in test])
            metrics = tag_metrics(Y[test], proba, tags)
            rows.append({"roc_auc": metrics["roc_auc_macro"], "pr_auc": metrics["pr_auc_macro"],
                         "fit_seconds": fit_seconds})
        summary = {"model": name, "n_folds": len(rows)}
        for key in ("roc_auc", "pr_auc", "fit_seconds"):
            values = np.array([r[key] for r in rows])
            summary[key] = round(float(values.mean()), 4)
            summary[key + "_std"] = round(float(values.std()), 4)
        results.append(summary)
        print(f"{name}: ROC-AUC {summary['roc_auc']:.3f}", file=sys.stderr, flush=True)
    table = ["| model | macro ROC-AUC | macro PR-AUC | fit s/fold |", "|---|---|---|---|"]
    for r in results:
        table.append(f"| {r['model']} | {r['roc_auc']:.3f} +- {r['roc_auc_std']:.3f} "
                     f"| {r['pr_auc']:.3f} +- {r['pr_auc_std']:.3f} | {r['fit_seconds']:.1f} |")
    print("\n".join(table))
    record = {"command": "python benchmarks/compare_multilabel.py " + " ".join(argv or []),
              "tags": [str(t) for t in tags], "n_clips": len(X),
              "positives_per_tag": Y.sum(axis=0).tolist(), "results": results,
              "table": "\n".join(table)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main(sys.argv[1:])
