"""Command line, thin over the library: ``python -m sklearn_genre COMMAND``.

Commands: ``demo``, ``predict MODEL (FILE | DIR)... [--format text|csv|json]``, ``train
(--tsv T --mel-dir D | --audio-dir D | --gtzan D) --out MODEL``, ``evaluate MODEL (--tsv T
--mel-dir D | --audio-dir D | --gtzan D) [--report PAGE]``, ``info MODEL`` (the model card).
A file that cannot be read gets one line naming it on standard error; the other files are
still processed and the exit code is 1. Progress and summaries go to standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


def _error(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"error: {message}", file=sys.stderr)  # on a line of its own, under any bar


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


def _save_model(model, path, card=True) -> None:
    """Save atomically: the safe format for ``*.sgm`` (with its model card), joblib
    otherwise."""
    import joblib

    from .datasets._base import atomic_write
    from .persistence import save

    if str(path).endswith(".sgm"):
        save(model, path, card=card)
        return
    with atomic_write(path) as handle:  # a crash never leaves a half-written model
        joblib.dump(model, handle)


def _format_time(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _text_lines(result) -> list[str]:
    top = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in result.top)
    return [f"{result.file}: {top}"] + [
        f"  {_format_time(seg['start'])}-{_format_time(seg['end'])}  {seg['label']} "
        f"{seg['probability']:.2f}" for seg in result.segments or []]


def _csv_rows(result, top_k: int, segments: bool) -> list[list]:
    if segments:
        return [[result.file, seg["start"], seg["end"], seg["label"], seg["probability"]]
                for seg in result.segments]
    row = [result.file, result.duration_seconds]
    for rank in range(top_k):
        row += ([result.top[rank]["label"], result.top[rank]["probability"]]
                if rank < len(result.top) else ["", ""])
    return [row]


def _csv_header(top_k: int, segments: bool) -> list[str]:
    if segments:
        return ["file", "start", "end", "label", "probability"]
    return ["file", "duration_seconds"] + [f"{name}_{rank}" for rank in range(1, top_k + 1)
                                           for name in ("label", "probability")]


def _predict(args) -> int:
    import contextlib
    import csv

    from ._folder import find_files, predict_files

    output_format = args.format or ("json" if args.json else "text")
    if args.json and output_format != "json":
        args.parser_error(f"--json asks for JSON output but --format is {args.format!r}")
    if args.batch_size < 1:
        args.parser_error(f"--batch-size must be at least 1, got {args.batch_size}")
    model = _load_model(args.model)
    paths = find_files(args.files)
    if not paths:
        _error(f"no audio or .npy files in {', '.join(args.files)}")
        return 1
    top_k = max(1, min(args.top_k, len(np.asarray(model.classes_))))
    results, n_failed = [], 0
    with contextlib.ExitStack() as stack:
        out = (stack.enter_context(open(args.output, "w", newline="", encoding="utf-8"))
               if args.output else sys.stdout)
        writer = csv.writer(out) if output_format == "csv" else None
        if writer is not None:
            writer.writerow(_csv_header(top_k, args.segments))
        for result in predict_files(model, paths, top_k=top_k, segments=args.segments,
                                    batch_size=args.batch_size, n_jobs=args.n_jobs,
                                    verbose=args.progress):
            if result.error is not None:
                _error(result.error)
                n_failed += 1
            elif output_format == "json":
                results.append(result.as_dict())
            elif writer is not None:
                writer.writerows(_csv_rows(result, top_k, args.segments))
            else:
                print("\n".join(_text_lines(result)), file=out)
            out.flush()
        if output_format == "json":
            print(json.dumps(results, indent=2), file=out)
    return 1 if n_failed else 0


def _info(args) -> int:
    import zipfile

    from .card import model_card, read_card, render_card
    from .persistence import load

    path = Path(args.model)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        _error(f"{path}: no model card available: joblib and pickle files carry none; save "
               "the model with sklearn_genre.save (*.sgm) to get one")
        return 1
    card = read_card(path)
    if card is None:  # saved before cards existed: what the model itself knows
        card = model_card(load(path), notes="This file was saved without a card: this one is "
                          "built from the model alone, so its training data and held-out "
                          "scores are unknown.")
    text = json.dumps(card, indent=2) if args.json else render_card(card)
    if args.output:
        Path(args.output).write_text(text if text.endswith("\n") else text + "\n",
                                     encoding="utf-8")
    else:
        print(text)
    return 0


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
    """The clips of the fault-filtered GTZAN split in ``parts``, as (X, y, groups, DESCR)."""
    from .datasets import load_gtzan

    data = load_gtzan(args.gtzan, split="fault-filtered", **_audio_options(args))
    keep = np.flatnonzero(np.isin(data.split.astype(str), parts))
    descr = (f"{data.DESCR}\nUsing the {' and '.join(parts)} part{'s' * (len(parts) > 1)}: "
             f"{len(keep)} tracks.")
    return [data.data[i] for i in keep], data.target[keep], data.groups[keep], descr


def _command_line(args) -> str:
    import shlex

    return "python -m sklearn_genre " + shlex.join(args.argv)


def _train(args) -> int:
    from .card import data_summary
    from .datasets import load_audio_folder, load_mtg_jamendo
    from .pipeline import make_genre_pipeline

    source = _data_source(args, args.parser_error, audio_dir=True)
    split = None
    if source == "audio":
        data = load_audio_folder(args.audio_dir, on_error=args.on_error, **_audio_options(args))
        X, y, groups, descr = data.data, data.target, data.groups, data.DESCR
        collection = f"audio folder {args.audio_dir}"
    elif source == "gtzan":  # train and validation parts: the test part stays unseen
        X, y, groups, descr = _load_gtzan_part(args, ["train", "validation"])
        collection, split = f"GTZAN ({args.gtzan})", "fault-filtered split, train and " \
            "validation parts (the artist-disjoint test part left out)"
    else:
        data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                                classes=args.classes, n_per_class=args.n_per_class,
                                on_missing=args.on_missing, random_state=args.random_state)
        X, y, groups, descr = data.data, data.target, data.get("groups"), data.DESCR
        collection, split = f"MTG-Jamendo layout ({args.mel_dir})", f"metadata {args.tsv}"
    print(descr, file=sys.stderr)
    params = {"clf__random_state": args.random_state, "clf__verbose": int(args.verbose)}
    if args.max_epochs is not None:
        params["clf__max_epochs"] = args.max_epochs
    model = make_genre_pipeline(**params).fit(X, y)
    card = {"data": data_summary(y, groups=groups, collection=collection, split=split),
            "command": _command_line(args)}
    _save_model(model, args.out, card=card)
    print(f"saved {args.out} ({len(y)} tracks, classes {list(model.classes_)})",
          file=sys.stderr)
    return 0


def _evaluate(args) -> int:
    from sklearn.metrics import classification_report

    from .datasets import load_audio_folder, load_mtg_jamendo
    from .report import evaluate, write_page

    source = _data_source(args, args.parser_error, audio_dir=True)
    model = _load_model(args.model)
    if source == "gtzan":  # the fault-filtered, artist-disjoint test part
        X, y, groups, descr = _load_gtzan_part(args, ["test"])
        print(descr, file=sys.stderr)
    elif source == "audio":
        data = load_audio_folder(args.audio_dir, on_error=args.on_error, **_audio_options(args))
        X, y, groups = data.data, data.target, data.groups
        print(data.DESCR, file=sys.stderr)
    else:
        data = load_mtg_jamendo(args.tsv, args.mel_dir, category=args.category,
                                classes=list(model.classes_), on_missing=args.on_missing)
        X, y, groups = data.data, data.target, data.get("groups")
    if args.report:
        evaluation = evaluate(model, X, y, groups=groups,
                              title=f"{Path(args.model).name}: {_command_line(args)}")
        y_pred = evaluation.y_pred
    else:
        y_pred = model.predict(X)
    print(classification_report(y, y_pred, digits=3, zero_division=0))
    if args.report:
        write_page(evaluation, args.report)
        print(f"wrote {args.report}", file=sys.stderr)
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=args.out, n_per_class=args.n_per_class, clip_seconds=args.clip_seconds,
             data_home=args.data_home, n_jobs=args.n_jobs, random_state=args.random_state)
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
    demo.add_argument("--n-per-class", type=int, default=40, help="clips per class")
    demo.add_argument("--clip-seconds", type=float, default=10.0, help="clip length")
    demo.add_argument("--data-home", default=None, help="corpus cache folder")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel jobs (default: all cores)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(func=_demo)

    predict = sub.add_parser("predict", help="top-k genres of audio files, .npy mels or "
                             "folders of them")
    predict.add_argument("model", help="a model saved by `train` or the demo: .sgm (safe "
                         "format) or .joblib (runs code when loaded: only from trusted sources)")
    predict.add_argument("files", nargs="+", metavar="DIR_OR_FILE",
                         help="audio files (wav, flac, ogg, mp3, au, aiff, ...), .npy mels, or "
                              "folders searched recursively for them")
    predict.add_argument("--format", choices=["text", "csv", "json"], default=None,
                         help="text (default), csv (one row per file, or per segment with "
                              "--segments) or json")
    predict.add_argument("--json", action="store_true", help="the same as --format json")
    predict.add_argument("--top-k", type=int, default=3, help="labels per file (default 3)")
    predict.add_argument("--segments", action="store_true",
                         help="a timeline instead: the genre of every window")
    predict.add_argument("--output", "-o", default=None, help="write there instead of "
                         "standard output")
    predict.add_argument("--batch-size", type=int, default=32, help="files per model call")
    predict.add_argument("--n-jobs", type=int, default=None,
                         help="files decoded in parallel processes (-1: all cores)")
    predict.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="a progress bar on standard error (default: on a terminal)")
    predict.set_defaults(func=_predict, parser_error=predict.error)

    info = sub.add_parser("info", help="print the model card of a .sgm model")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="the card as JSON")
    info.add_argument("--output", "-o", default=None, help="write it there (e.g. README.md)")
    info.set_defaults(func=_info)

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

    evaluate = sub.add_parser("evaluate", help="classification report on an MTG-layout dump, "
                              "a class-per-folder audio collection or GTZAN's fault-filtered "
                              "test part")
    evaluate.add_argument("model")
    _add_data_args(evaluate, audio_dir=False)
    evaluate.add_argument("--audio-dir", help="labelled audio files, one sub-folder per class")
    evaluate.add_argument("--on-error", default="raise", choices=["raise", "skip"],
                          help="audio files that cannot be decoded: error, or skip them")
    evaluate.add_argument("--report", default=None, metavar="PAGE",
                          help="also write a one-page report: *.html or *.png")
    evaluate.set_defaults(func=_evaluate)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit code."""
    from .exceptions import DataFileError

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except (DataFileError, FileNotFoundError, ValueError) as exc:
        _error(str(exc))
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
