"""Cross-instrument variance: 7 seeded networks alone and as a soft-voting ensemble.

The demo's cross-instrument score of a single network moves by more than 0.1 with the
random streams alone (dropout masks, batch order). This trains ``make_genre_ensemble(7)``
on the demo's cross-instrument split (``instrument_holdout``, corpus of 120 clips per
class) and reports each member's macro-F1 on the held-out instruments and the ensemble's.

Usage::

    python benchmarks/check_cross_instrument.py [--data-home DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from sklearn_genre import make_baseline_pipeline, make_genre_ensemble
from sklearn_genre.datasets import render_score_corpus
from sklearn_genre.demo import instrument_holdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=120)
    parser.add_argument("--n-members", type=int, default=7)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--out", default="benchmarks/results/cross_instrument.json")
    args = parser.parse_args(argv)
    corpus = render_score_corpus(n_per_class=args.n_per_class, data_home=args.data_home,
                                 n_jobs=-1, verbose=False)
    X, y = corpus.data, corpus.target
    train, test, _, test_pool = instrument_holdout(corpus.instruments, corpus.groups,
                                                   random_state=0)
    X_train, X_test = [X[i] for i in train], [X[i] for i in test]
    start = time.perf_counter()
    ensemble = make_genre_ensemble(args.n_members, random_state=0, clf__verbose=0,
                                   clf__lr=0.003).fit(X_train, y[train])
    seconds = time.perf_counter() - start
    # members were fitted on VotingClassifier's encoded labels
    members = [float(f1_score(y[test], ensemble.classes_[m.predict(X_test)], average="macro"))
               for m in ensemble.estimators_]
    ensemble_f1 = float(f1_score(y[test], ensemble.predict(X_test), average="macro"))
    baseline = make_baseline_pipeline().fit(X_train, y[train])
    baseline_f1 = float(f1_score(y[test], baseline.predict(X_test), average="macro"))
    results = {"n_train": len(train), "n_test": len(test),
               "test_pool": [int(p) for p in test_pool],
               "member_macro_f1": [round(f, 4) for f in members],
               "member_mean": round(float(np.mean(members)), 4),
               "member_std": round(float(np.std(members)), 4),
               "ensemble_macro_f1": round(ensemble_f1, 4),
               "baseline_macro_f1": round(baseline_f1, 4), "fit_seconds": round(seconds, 1)}
    print("| model | cross-instrument macro-F1 |\n|---|---|")
    for k, f in enumerate(members):
        print(f"| member {k} (seed {k}) | {f:.3f} |")
    print(f"| members, mean +- std | {np.mean(members):.3f} +- {np.std(members):.3f} |")
    print(f"| soft vote of {args.n_members} | {ensemble_f1:.3f} |")
    print(f"| baseline | {baseline_f1:.3f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
