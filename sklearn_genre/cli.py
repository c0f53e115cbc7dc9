"""Command line, thin over the library: ``python -m sklearn_genre COMMAND``.

Commands: ``demo``, ``predict MODEL FILE...``, ``train --tsv T --mel-dir D --out MODEL``,
``evaluate MODEL --tsv T --mel-dir D``. A file that cannot be read gets one line naming it
on standard error; the other files are still processed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _load_model(path):
    """Load a safe-format model (.sgm, never runs code) or a joblib file you trust."""
    import zipfile

    import joblib

    from .persistence import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if zipfile.is_zipfile(path):
        return load(path)
    return joblib.load(path)


def _save_model(model, path) -> None:
    """Save atomically: the safe format for ``*.sgm``, joblib otherwise."""
    import joblib

    from .datasets._base import atomic_write
    from .persistence import save

    if str(path).endswith(".sgm"):
        save(model, path)
        return
    with atomic_write(path) as handle:  # a crash never leaves a half-written model
        joblib.dump(model, handle)


def _read_mel(path: str):
    """A mel-spectrogram from an audio file, or from a .npy mel in the dataset's format."""
    from .audio import load_audio_mel
    from .datasets._mtg import load_mel

    if path.endswith(".npy"):
        return np.asarray(load_mel(path, mmap=False, n_mels=None))
    return load_audio_mel(path)


def _format_time(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _predict(args) -> int:
    from .exceptions import DataFileError, SpectrogramError
    from .timeline import genre_timeline

    model = _load_model(args.model)
    classes = np.asarray(model.classes_)
    k = max(1, min(args.top_k, len(classes)))
    results, n_failed = [], 0
    for path in args.files:
        try:
            mel = _read_mel(path)
            proba = model.predict_proba([mel])[0]
            timeline = genre_timeline(model, [mel])[0] if args.segments else None
        except (DataFileError, SpectrogramError, OSError) as exc:
            _error(f"{path}: {exc}" if path not in str(exc) else str(exc))
            n_failed += 1
            continue
        order = np.argsort(proba)[::-1][:k]
        result = {"file": path, "duration_seconds": round(mel.shape[1] / 46.875, 2),
                  "top": [{"label": str(classes[i]), "probability": round(float(proba[i]), 4)}
                          for i in order]}
        if timeline is not None:
            labels = timeline.columns[2:]
            values = timeline[labels].to_numpy()
            result["segments"] = [
                {"start": round(float(row.start), 2), "end": round(float(row.end), 2),
                 "label": str(labels[int(np.argmax(v))]),
                 "probability": round(float(np.max(v)), 4)}
                for row, v in zip(timeline.itertuples(), values)]
        results.append(result)
        if not args.json:
            top = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in result["top"])
            print(f"{path}: {top}")
            for seg in result.get("segments", []):
                print(f"  {_format_time(seg['start'])}-{_format_time(seg['end'])}  "
                      f"{seg['label']} {seg['probability']:.2f}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if n_failed else 0


def _train(args) -> int:
    from .datasets import load_mtg_jamendo
    from .pipeline import make_genre_pipeline

    data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                            classes=args.classes, n_per_class=args.n_per_class,
                            on_missing=args.on_missing, random_state=args.random_state)
    print(data.DESCR, file=sys.stderr)
    params = {"clf__random_state": args.random_state, "clf__verbose": int(args.verbose)}
    if args.max_epochs is not None:
        params["clf__max_epochs"] = args.max_epochs
    model = make_genre_pipeline(**params).fit(data.data, data.target)
    _save_model(model, args.out)
    print(f"saved {args.out} ({len(data.target)} tracks, classes {list(model.classes_)})",
          file=sys.stderr)
    return 0


def _evaluate(args) -> int:
    from sklearn.metrics import classification_report

    from .datasets import load_mtg_jamendo

    model = _load_model(args.model)
    data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                            classes=list(model.classes_), on_missing=args.on_missing)
    y_pred = model.predict(data.data)
    print(classification_report(data.target, y_pred, digits=3, zero_division=0))
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=args.out, n_per_class=args.n_per_class, data_home=args.data_home,
             n_jobs=args.n_jobs, random_state=args.random_state)
    return 0


def _add_data_args(parser):
    parser.add_argument("--tsv", required=True, help="MTG-Jamendo metadata TSV")
    parser.add_argument("--mel-dir", required=True, help="root of the .npy mel dump")
    parser.add_argument("--category", default="genre",
                        choices=["genre", "mood/theme", "instrument", "all"])
    parser.add_argument("--on-missing", default="raise", choices=["raise", "skip"],
                        help="missing or corrupt .npy files: error or skip with a warning")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_genre",
        description="Music genre classification from mel-spectrograms.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="render the score corpus, tune, evaluate, save a model")
    demo.add_argument("--out", default="demo_output", help="output folder (default: %(default)s)")
    demo.add_argument("--n-per-class", type=int, default=120, help="clips per class")
    demo.add_argument("--data-home", default=None, help="corpus cache folder")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel jobs (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(func=_demo)

    predict = sub.add_parser("predict", help="top-k genres of audio files or .npy mels")
    predict.add_argument("model", help="a model saved by `train` or the demo: .sgm (safe "
                         "format) or .joblib (runs code when loaded: only from trusted sources)")
    predict.add_argument("files", nargs="+", help="audio files (wav, flac, ogg, mp3) or .npy")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--segments", action="store_true",
                         help="also print a timeline: the genre of every window")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    predict.set_defaults(func=_predict)

    train = sub.add_parser("train", help="fit the default pipeline on an MTG-layout dump")
    _add_data_args(train)
    train.add_argument("--out", required=True,
                       help="where to save the model: *.sgm (safe format) or *.joblib")
    train.add_argument("--classes", type=int, default=None, help="keep the k most frequent")
    train.add_argument("--n-per-class", type=int, default=None, help="balance the classes")
    train.add_argument("--max-epochs", type=int, default=None)
    train.add_argument("--random-state", type=int, default=0)
    train.add_argument("--verbose", action="store_true", help="print a row per epoch")
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="classification report on an MTG-layout dump")
    evaluate.add_argument("model")
    _add_data_args(evaluate)
    evaluate.set_defaults(func=_evaluate)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit code."""
    from .exceptions import DataFileError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataFileError, FileNotFoundError, ValueError) as exc:
        _error(str(exc))
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
