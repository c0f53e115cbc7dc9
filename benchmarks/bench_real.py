"""Real recordings: the default pipeline, the seed preset and two baselines, artist-disjoint.

The real sample (``../shared/data/real-sample``, PROVENANCE.md: 56 FMA-small clips of 30 s,
6 genres, 26 artists, Creative Commons) under ``StratifiedGroupKFold(3, shuffle=True,
random_state=0)`` grouped by artist. For each model and fold: macro-F1 and accuracy on the
held-out artists, and accuracy on the fold's own training clips (does the model fit them?).
Models:

- ``default``: ``make_genre_pipeline()``;
- ``seed``: ``make_genre_pipeline("seed")`` (the original project's hyper-parameters);
- ``band_stats``: ``make_baseline_pipeline()`` (per-band mean/std, logistic regression);
- ``classic``: ``make_baseline_pipeline("classic")`` (MFCC, spectral, onset features from
  the mels, logistic regression);
- ``classic_audio``: the 89 librosa features practitioners compute from the audio (20 MFCC,
  centroid, bandwidth, roll-off, 7 contrast bands, zero crossings, 12 chroma, RMS: mean and
  std; tempo), logistic regression; a reference, not shipped.

It is small and unbalanced: a sanity check, not a benchmark to tune on. Writes
``results/real.json``. Usage::

    python benchmarks/bench_real.py [--models default seed band_stats classic classic_audio]
        [--set default:clf__max_epochs=20]
        [--variant "name=default:clf__lr=0.003;clf__max_epochs=20"]
        [--seeds 0 1] [--predict-windows 4 8 16 32] [--quick]

``--predict-windows``: each fitted network with a windowing step (not the seed preset's
single trimmed window) is also scored with that many prediction windows per clip
(``window__n_windows`` changed after fit; training is unchanged), reported per run as
``macro_f1_by_windows``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLE = ROOT.parent / "shared" / "data" / "real-sample"
NETWORKS = ("default", "seed")


def load_sample(root: Path, cache_dir: Path, quick: bool = False):
    """Mels (MTG recipe), genres, artists and paths of the sample's FMA clips, cached.
    ``quick``: 6 clips of each of the 3 largest genres (for the test suite)."""
    import pandas as pd

    from sklearn_genre import MelSpectrogram

    manifest = pd.read_csv(root / "manifest.csv")
    manifest = manifest[manifest.collection == "fma_small"].reset_index(drop=True)
    if quick:
        largest = manifest.genre.value_counts().index[:3]
        manifest = manifest[manifest.genre.isin(largest)].groupby("genre").head(6)
        manifest = manifest.reset_index(drop=True)
    paths = [str(root / p) for p in manifest.path]
    cache = cache_dir / "real_sample_mels.npz"
    if cache.exists():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["paths"]) == paths:
            return ([stored[f"mel{i}"] for i in range(len(paths))], manifest.genre.to_numpy(),
                    manifest.artist_id.to_numpy(), paths)
    mels = MelSpectrogram(n_jobs=2).transform(paths)
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(cache, paths=np.array(paths), **{f"mel{i}": m for i, m in enumerate(mels)})
    return mels, manifest.genre.to_numpy(), manifest.artist_id.to_numpy(), paths


def audio_features(path: str) -> np.ndarray:
    """The 89 classic librosa features of one audio file (22.05 kHz mono)."""
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True)
    frames = np.vstack([
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20),
        librosa.feature.spectral_centroid(y=y, sr=sr),
        librosa.feature.spectral_bandwidth(y=y, sr=sr),
        librosa.feature.spectral_rolloff(y=y, sr=sr),
        librosa.feature.spectral_contrast(y=y, sr=sr),
        librosa.feature.zero_crossing_rate(y),
        librosa.feature.chroma_stft(y=y, sr=sr),
        librosa.feature.rms(y=y),
    ])
    tempo = float(np.ravel(librosa.feature.tempo(y=y, sr=sr))[0])
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1), [tempo]])


def build(name: str, overrides: dict, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_genre import make_baseline_pipeline, make_genre_pipeline

    if name in NETWORKS:
        return make_genre_pipeline(name, random_state=seed,
                                   **{"clf__verbose": 0, **overrides})
    if name == "band_stats":
        return make_baseline_pipeline(**overrides)
    if name == "classic":
        return make_baseline_pipeline("classic", **overrides)
    if name == "classic_audio":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    raise ValueError(f"unknown model {name!r}")


def parse_overrides(items):
    """``["model:param=value", ...]`` to ``{model: {param: value}}``."""
    out = {}
    for item in items or []:
        model, assignment = item.split(":", 1)
        key, value = assignment.split("=", 1)
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        out.setdefault(model, {})[key] = value
    return out


def main(argv=None):
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(DEFAULT_SAMPLE))
    parser.add_argument("--models", nargs="+",
                        default=["default", "seed", "band_stats", "classic", "classic_audio"])
    parser.add_argument("--set", action="append", default=[],
                        help="MODEL:PARAM=VALUE, a parameter of one model")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=BASE:PARAM=VALUE[;PARAM=VALUE]: another model to run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--predict-windows", type=int, nargs="+", default=[],
                        help="also score each fitted network with these window counts")
    parser.add_argument("--quick", action="store_true", help="tiny run for the test suite")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "real.json"))
    args = parser.parse_args(argv)
    from sklearn_genre.datasets import get_data_home

    root = Path(args.root)
    if not (root / "manifest.csv").exists():
        raise SystemExit(f"no real sample at {root} (expected manifest.csv; see "
                         "PROVENANCE.md of the shared data)")
    cache_dir = Path(args.cache_dir) if args.cache_dir else get_data_home() / "bench_real"
    X, y, groups, paths = load_sample(root, cache_dir, quick=args.quick)
    overrides = parse_overrides(args.set)
    variants = {}
    for spec in args.variant:
        name, rest = spec.split("=", 1)
        base, assignments = rest.split(":", 1)
        variants[name] = base
        overrides[name] = {**overrides.get(name, {}),
                           **parse_overrides(f"{name}:{a}" for a in assignments.split(";"))
                           [name]}
    models = list(args.models) + list(variants)
    if args.quick:
        for name in models:
            if variants.get(name, name) in NETWORKS:
                overrides[name] = {"clf__max_epochs": 1, **overrides.get(name, {})}
        args.seeds = args.seeds[:1]
    audio = None
    if "classic_audio" in models:
        audio = np.stack([audio_features(p) for p in paths])
    cv = StratifiedGroupKFold(args.folds, shuffle=True, random_state=0)
    folds = list(cv.split(np.zeros(len(y)), y, groups))
    results = {"n_clips": len(y), "n_artists": int(len(set(groups))),
               "classes": sorted(set(y)), "folds": args.folds, "cpu_count": os.cpu_count(),
               "models": {}}
    print("| model | macro-F1 per fold | mean macro-F1 | median | accuracy | "
          "training accuracy | fit s/fold |\n|---|---|---|---|---|---|---|")
    for name in models:
        base = variants.get(name, name)
        rows = []
        for seed in (args.seeds if base in NETWORKS else [0]):
            for k, (train, test) in enumerate(folds):
                model = build(base, overrides.get(name, {}), seed)
                data = audio if base == "classic_audio" else X
                train_x = data[train] if base == "classic_audio" else [X[i] for i in train]
                test_x = data[test] if base == "classic_audio" else [X[i] for i in test]
                started = time.perf_counter()
                model.fit(train_x, y[train])
                fit_seconds = time.perf_counter() - started
                predicted = model.predict(test_x)
                rows.append({
                    "seed": seed, "fold": k,
                    "macro_f1": float(f1_score(y[test], predicted, average="macro")),
                    "accuracy": float(accuracy_score(y[test], predicted)),
                    "train_accuracy": float(accuracy_score(y[train], model.predict(train_x))),
                    "fit_seconds": round(fit_seconds, 1)})
                fitted = model.get_params().get("window__n_windows") \
                    if base in NETWORKS else None
                if fitted is not None and args.predict_windows:  # not the seed's one window
                    by_windows = {}
                    for n_windows in args.predict_windows:
                        model.set_params(window__n_windows=n_windows)
                        by_windows[str(n_windows)] = float(f1_score(
                            y[test], model.predict(test_x), average="macro"))
                    model.set_params(window__n_windows=fitted)
                    rows[-1]["macro_f1_by_windows"] = by_windows
        summary = {key: float(np.mean([r[key] for r in rows]))
                   for key in ("macro_f1", "accuracy", "train_accuracy", "fit_seconds")}
        summary["median_macro_f1"] = float(np.median([r["macro_f1"] for r in rows]))
        summary["min_train_accuracy"] = float(min(r["train_accuracy"] for r in rows))
        if rows and "macro_f1_by_windows" in rows[0]:
            summary["macro_f1_by_windows"] = {
                n: float(np.mean([r["macro_f1_by_windows"][n] for r in rows]))
                for n in rows[0]["macro_f1_by_windows"]}
        results["models"][name] = {"base": base, "params": {k: repr(v) for k, v in
                                                            overrides.get(name, {}).items()},
                                   "runs": rows, **summary}
        per_fold = " ".join(f"{r['macro_f1']:.2f}" for r in rows)
        print(f"| {name} | {per_fold} | {summary['macro_f1']:.3f} | "
              f"{summary['median_macro_f1']:.3f} | {summary['accuracy']:.3f} | "
              f"{summary['train_accuracy']:.3f} | {summary['fit_seconds']:.0f} |")
        if "macro_f1_by_windows" in summary:
            print(f"|   {name}, mean macro-F1 by prediction windows: " + ", ".join(
                f"{n}: {v:.3f}" for n, v in summary["macro_f1_by_windows"].items()) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
