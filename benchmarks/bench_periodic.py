"""An easy rhythm task: does ``CRNNClassifier()`` with its defaults learn a pulse period?

90 ragged tracks (``make_periodic_tracks``: 3 classes, each pulses at its own period in the
same few bands, nothing else differs), trimmed to 1400 frames and normalized per band, then
``CRNNClassifier(max_epochs=25)`` with every other parameter at its default; the seed preset
and the band-statistics baseline for comparison. ``StratifiedKFold(5)``: macro-F1 on the
held-out tracks and accuracy on the training tracks. Writes ``results/periodic.json``.

Usage::

    python benchmarks/bench_periodic.py [--epochs 25] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    from sklearn_genre import CRNNClassifier, MelNormalizer, MelTrimmer, make_baseline_pipeline
    from sklearn_genre.datasets import make_periodic_tracks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "periodic.json"))
    args = parser.parse_args(argv)
    n_mels, frames = (96, 1400) if not args.quick else (24, 200)
    data = make_periodic_tracks(90 if not args.quick else 30, n_mels=n_mels,
                                min_frames=frames // 4, max_frames=frames,
                                bands=(n_mels // 5, n_mels // 5 + 8), random_state=0)
    X, y = data.data, data.target
    epochs = args.epochs if not args.quick else 1
    models = {
        "default": lambda: make_pipeline(MelTrimmer(frames), MelNormalizer(),
                                         CRNNClassifier(max_epochs=epochs, verbose=0,
                                                        random_state=0)),
        "seed": lambda: make_pipeline(MelTrimmer(frames), MelNormalizer(),
                                      CRNNClassifier.from_preset(
                                          "seed", max_epochs=epochs, verbose=0,
                                          random_state=0)),
        "band_stats": lambda: make_baseline_pipeline(),
    }
    folds = list(StratifiedKFold(args.folds if not args.quick else 2, shuffle=True,
                                 random_state=0).split(np.zeros(len(y)), y))
    results = {"n_tracks": len(y), "n_mels": n_mels, "frames": frames, "epochs": epochs,
               "models": {}}
    print("| model | macro-F1 | training accuracy | fit s/fold |\n|---|---|---|---|")
    for name, make in models.items():
        rows = []
        for train, test in folds:
            model = make()
            started = time.perf_counter()
            model.fit([X[i] for i in train], y[train])
            seconds = time.perf_counter() - started
            rows.append({
                "macro_f1": float(f1_score(y[test], model.predict([X[i] for i in test]),
                                           average="macro")),
                "train_accuracy": float(accuracy_score(
                    y[train], model.predict([X[i] for i in train]))),
                "fit_seconds": round(seconds, 1)})
        summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        results["models"][name] = {"runs": rows, **summary}
        print(f"| {name} | {summary['macro_f1']:.3f} | {summary['train_accuracy']:.3f} | "
              f"{summary['fit_seconds']:.0f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
