"""Command line, thin over the library: ``python -m sklearn_genre COMMAND``.

Commands: ``demo``, ``predict MODEL FILE...``, ``train (--tsv T --mel-dir D | --audio-dir D
| --gtzan D) --out MODEL``, ``evaluate MODEL (--tsv T --mel-dir D | --gtzan D)``. A file that
cannot be read gets one line naming it on standard error; the other files are still
processed and the exit code is 1. Progress and summaries go to standard error.
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


def _data_source(args, parser_error, *, audio_dir: bool) -> str:
    """Which data the command reads; a usage error unless exactly one source is given."""
    sources = {"mtg": args.tsv is not None or args.mel_dir is not None,
               "gtzan": args.gtzan is not None,
               "audio": audio_dir and args.audio_dir is not None}
    chosen = [name for name, given in sources.items() if given]
    options = "--tsv with --mel-dir, " + ("--audio-dir, " if audio_dir else "") + "or --gtzan"
    if len(chosen) != 1:
        parser_error(f"give exactly one data source: {options}")
    if chosen == ["mtg"] and (args.tsv is None or args.mel_dir is None):
        parser_error("--tsv and --mel-dir go together")
    return chosen[0]


def _audio_options(args) -> dict:
    return {"n_jobs": args.n_jobs, "data_home": args.data_home, "verbose": True}


def _load_gtzan_part(args, parts):
    """The clips of the fault-filtered GTZAN split in ``parts``, as (X, y, DESCR)."""
    from .datasets import load_gtzan

    data = load_gtzan(args.gtzan, split="fault-filtered", **_audio_options(args))
    keep = np.flatnonzero(np.isin(data.split.astype(str), parts))
    descr = (f"{data.DESCR}\nUsing the {' and '.join(parts)} part{'s' * (len(parts) > 1)}: "
             f"{len(keep)} tracks.")
    return [data.data[i] for i in keep], data.target[keep], descr


def _train(args) -> int:
    from .datasets import load_audio_folder, load_mtg_jamendo
    from .pipeline import make_genre_pipeline

    source = _data_source(args, args.parser_error, audio_dir=True)
    if source == "audio":
        data = load_audio_folder(args.audio_dir, on_error=args.on_error, **_audio_options(args))
        X, y, descr = data.data, data.target, data.DESCR
    elif source == "gtzan":  # train and validation parts: the test part stays unseen
        X, y, descr = _load_gtzan_part(args, ["train", "validation"])
    else:
        data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                                classes=args.classes, n_per_class=args.n_per_class,
                                on_missing=args.on_missing, random_state=args.random_state)
        X, y, descr = data.data, data.target, data.DESCR
    print(descr, file=sys.stderr)
    params = {"clf__random_state": args.random_state, "clf__verbose": int(args.verbose)}
    if args.max_epochs is not None:
        params["clf__max_epochs"] = args.max_epochs
    model = make_genre_pipeline(**params).fit(X, y)
    _save_model(model, args.out)
    print(f"saved {args.out} ({len(y)} tracks, classes {list(model.classes_)})",
          file=sys.stderr)
    return 0


def _evaluate(args) -> int:
    from sklearn.metrics import classification_report

    from .datasets import load_mtg_jamendo

    source = _data_source(args, args.parser_error, audio_dir=False)
    model = _load_model(args.model)
    if source == "gtzan":  # the fault-filtered, artist-disjoint test part
        X, y, descr = _load_gtzan_part(args, ["test"])
        print(descr, file=sys.stderr)
    else:
        data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                                classes=list(model.classes_), on_missing=args.on_missing)
        X, y = data.data, data.target
    y_pred = model.predict(X)
    print(classification_report(y, y_pred, digits=3, zero_division=0))
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=args.out, n_per_class=args.n_per_class, data_home=args.data_home,
             n_jobs=args.n_jobs, random_state=args.random_state)
    return 0


def _add_data_args(parser, *, audio_dir: bool):
    parser.add_argument("--tsv", help="MTG-Jamendo metadata TSV (with --mel-dir)")
    parser.add_argument("--mel-dir", help="root of the .npy mel dump (with --tsv)")
    parser.add_argument("--category", default="genre",
                        choices=["genre", "mood/theme", "instrument", "all"])
    parser.add_argument("--on-missing", default="raise", choices=["raise", "skip"],
                        help="missing or corrupt .npy files: error or skip with a warning")
    if audio_dir:
        parser.add_argument("--audio-dir", help="audio files, one sub-folder per class")
        parser.add_argument("--on-error", default="raise", choices=["raise", "skip"],
                            help="audio files that cannot be decoded: error, or skip them "
                                 "with a warning")
    parser.add_argument("--gtzan", help="a GTZAN copy (genres/ or genres_original/): the "
                        "fault-filtered split's " + ("train and validation parts" if audio_dir
                                                     else "test part"))
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="audio files decoded in parallel (-1: all cores)")
    parser.add_argument("--data-home", default=None, help="mel cache folder")
    parser.set_defaults(parser_error=parser.error)


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

    train = sub.add_parser("train", help="fit the default pipeline on an MTG-layout dump, a "
                           "class-per-folder audio collection or GTZAN")
    _add_data_args(train, audio_dir=True)
    train.add_argument("--out", required=True,
                       help="where to save the model: *.sgm (safe format) or *.joblib")
    train.add_argument("--classes", type=int, default=None, help="keep the k most frequent")
    train.add_argument("--n-per-class", type=int, default=None, help="balance the classes")
    train.add_argument("--max-epochs", type=int, default=None)
    train.add_argument("--random-state", type=int, default=0)
    train.add_argument("--verbose", action="store_true", help="print a row per epoch")
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="classification report on an MTG-layout dump "
                              "or GTZAN's fault-filtered test part")
    evaluate.add_argument("model")
    _add_data_args(evaluate, audio_dir=False)
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
