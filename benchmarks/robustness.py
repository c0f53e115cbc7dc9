"""Robustness: the default pipeline and the logistic baseline under shifts of the test audio.

Each model is trained once, on the score corpus (by default with class-typical
instruments, the installed soundfonts and random recording effects), and scored
(macro-F1) on held-out pieces (no piece in both train and test) rendered:

- as trained (``unseen pieces``);
- with instruments never seen in training (``unseen instruments``: about a third of the
  programs, at least one of each class's table, are left out of the training corpus);
- with a soundfont never seen in training (``unseen soundfont``: one soundfont family, e.g.
  FluidR3_GM with FluidR3Mono_GM, left out of training; skipped, with the reason, when
  fewer than two families are available);
- faster and slower (tempo +-8 %, +-15 %), transposed (+-1, +-2 semitones), with white
  noise at 20 and 10 dB SNR, and with an EQ tilt of +3 and -3 dB per octave;
- transposed by +-1 semitone without re-rendering (``pitch +-1, mels resampled``): the
  held-out mels as trained, their mel axis resampled by
  :func:`sklearn_genre.engine.transpose_mels`. If a model loses as much here as on the
  re-rendered transposition, the loss is the model's sensitivity to pitch, not an artifact
  of rendering.

The test clips of every condition are the same planned clips (pieces, starts, dynamics,
instruments, effects) with one change (:class:`sklearn_genre.datasets.ClipVariation`).
Also recorded per model: accuracy on its own training clips and fit seconds.

Usage::

    python benchmarks/robustness.py                      # 60 clips per class of 15 s
    python benchmarks/robustness.py --epochs 10          # a quicker look
    python benchmarks/robustness.py --quick              # seconds, for the tests

Writes ``benchmarks/results/robustness.json`` (``--out``) and a PNG beside it, and
prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import re
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = {"default": "default pipeline (CRNN)",
          "baseline": "logistic regression on band mean/std",
          "classic": "logistic regression on classic features"}
SHIFTS = [
    ("tempo +8 %", {"tempo": 1.08}),
    ("tempo -8 %", {"tempo": 0.92}),
    ("tempo +15 %", {"tempo": 1.15}),
    ("tempo -15 %", {"tempo": 0.85}),
    ("pitch +1", {"transpose": 1}),
    ("pitch -1", {"transpose": -1}),
    ("pitch +2", {"transpose": 2}),
    ("pitch -2", {"transpose": -2}),
    ("noise 20 dB SNR", {"snr_db": 20.0}),
    ("noise 10 dB SNR", {"snr_db": 10.0}),
    ("EQ tilt +3 dB/oct", {"tilt_db_per_octave": 3.0}),
    ("EQ tilt -3 dB/oct", {"tilt_db_per_octave": -3.0}),
]
RESAMPLED = [("pitch +1, mels resampled", 1.0), ("pitch -1, mels resampled", -1.0)]
CONDITIONS = ["unseen pieces", "unseen instruments", "unseen soundfont",
              *[name for name, _ in SHIFTS], *[name for name, _ in RESAMPLED]]


def resampled(mels, semitones: float) -> list:
    """Each ``(n_mels, n_frames)`` mel (MTG recipe axis) transposed by resampling."""
    import torch

    from sklearn_genre.engine import transpose_mels

    return [transpose_mels(torch.from_numpy(np.ascontiguousarray(m))[None], semitones)[0]
            .numpy() for m in mels]


def soundfont_family(path) -> str:
    """Soundfonts that share samples share a family: FluidR3_GM and FluidR3Mono_GM."""
    stem = Path(path).stem.lower()
    return re.sub(r"(mono)?([_-]?(gm|gs))?$", "", stem) or stem


def split_soundfonts(fonts, rng):
    """``(train_fonts, unseen_font, reason_skipped)``: one family held out, if two exist."""
    families = sorted({soundfont_family(f) for f in fonts})
    if len(families) < 2:
        return list(fonts), None, (
            f"one soundfont family available ({', '.join(Path(f).name for f in fonts)}); "
            "install another, e.g. apt-get install fluid-soundfont-gm")
    held = families[int(rng.integers(len(families)))]
    return ([f for f in fonts if soundfont_family(f) != held],
            next(f for f in fonts if soundfont_family(f) == held), None)


def held_out_instruments(tables: dict, rng) -> list[int]:
    """About a third of the programs, leaving every class some seen and some unseen ones."""
    programs = sorted({p for table in tables.values() for p in table})
    size = max(1, round(len(programs) / 3))
    for _ in range(10_000):
        held = set(rng.choice(programs, size=size, replace=False).tolist())
        if all(set(table) & held and set(table) - held for table in tables.values()):
            return sorted(held)
    raise ValueError(f"no split of the instruments {programs} leaves every class both seen "
                     "and unseen instruments")


def pipeline_overrides(items) -> dict:
    """``["PARAM=VALUE", ...]`` (values as Python literals where they parse) to a dict."""
    import ast

    out = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = results["conditions"]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(13, 4.5))
    for k, (model, label) in enumerate(MODELS.items()):
        scores = [results["models"][model]["macro_f1"][c] for c in names]
        heights = [np.nan if s is None else s for s in scores]
        width = 0.8 / len(MODELS)
        ax.bar(x + (k - (len(MODELS) - 1) / 2) * width, heights, width=width, label=label)
    for i, name in enumerate(names):
        if name in results["skipped"]:
            ax.text(i, 0.02, "skipped", rotation=90, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, names, rotation=40, ha="right")
    ax.set(ylabel="macro-F1 (held-out pieces)", ylim=(0, 1.12), yticks=np.arange(0, 1.01, 0.2),
           title="Robustness to shifts of the test audio")
    ax.axhline(1 / len(results["settings"]["classes"]), color="grey", lw=0.8, ls=":")
    ax.legend(loc="upper center", ncol=len(MODELS), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table(results: dict) -> str:
    lines = ["| condition | " + " | ".join(MODELS.values()) + " |",
             "|---|" + "---|" * len(MODELS)]
    for name in results["conditions"]:
        if name in results["skipped"]:
            lines.append(f"| {name} | skipped: {results['skipped'][name]} |" + " |"
                         * (len(MODELS) - 1))
            continue
        cells = [f"{results['models'][m]['macro_f1'][name]:.3f}" for m in MODELS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for key, fmt in (("train_accuracy", "{:.3f}"), ("fit_seconds", "{:.1f}")):
        cells = [fmt.format(results["models"][m][key]) for m in MODELS]
        lines.append(f"| {key.replace('_', ' ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=60)
    parser.add_argument("--clip-seconds", type=float, default=15.0)
    parser.add_argument("--classes", nargs="*", default=None,
                        help="default: every class with at least 30 pieces")
    parser.add_argument("--soundfonts", default="installed",
                        help="'installed', 'bundled' or a comma-separated list of files")
    parser.add_argument("--instrumentation", default="genre", choices=["genre", "shared"])
    parser.add_argument("--effects", default="random", choices=["random", "none"])
    parser.add_argument("--dynamics", default="flat", choices=["flat", "metrical"],
                        help="note velocities: random, or following the notated metre")
    parser.add_argument("--epochs", type=int, default=None,
                        help="the CRNN's max_epochs (default: the pipeline's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1, help="rendering processes")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="a parameter of the default pipeline, e.g. "
                             "'clf__augment={\"band_shift\": 2}' (repeatable)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "robustness.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_per_class, args.clip_seconds, args.n_jobs = 8, 3.0, 1  # no worker start-up
        args.classes = args.classes or ["chorale", "jig", "reel"]
        args.epochs = args.epochs or 2

    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from sklearn_genre import make_baseline_pipeline, make_genre_pipeline
    from sklearn_genre.datasets import (
        GENRE_INSTRUMENTS,
        INSTRUMENT_POOL,
        ClipVariation,
        installed_soundfonts,
        render_score_corpus,
        score_catalogue,
    )
    from sklearn_genre.demo import group_holdout

    started = time.perf_counter()
    if args.classes:
        classes = sorted(args.classes)
    else:  # every class with at least 30 usable pieces, as render_score_corpus does
        counts = score_catalogue().query("status == 'ok'").label.value_counts()
        classes = sorted(counts[counts >= 30].index)
    rng = np.random.default_rng(args.seed)
    if args.soundfonts == "installed":
        fonts = installed_soundfonts()[0]
    elif args.soundfonts == "bundled":
        fonts = installed_soundfonts(dirs=[])[0]
    else:
        fonts = args.soundfonts.split(",")
    skipped = {}
    train_fonts, unseen_font, reason = split_soundfonts(fonts, rng)
    if reason:
        skipped["unseen soundfont"] = reason
    tables = {label: (GENRE_INSTRUMENTS[label] if args.instrumentation == "genre"
                      else INSTRUMENT_POOL) for label in classes}
    unseen_programs = held_out_instruments(tables, rng)
    train_programs = sorted({p for t in tables.values() for p in t} - set(unseen_programs))
    corpus_args = dict(
        classes=classes, n_per_class=args.n_per_class, clip_seconds=args.clip_seconds,
        instrumentation=args.instrumentation, instruments=train_programs,
        soundfonts=train_fonts, effects=None if args.effects == "none" else args.effects,
        dynamics=args.dynamics, data_home=args.data_home, n_jobs=args.n_jobs,
        random_state=args.seed, verbose=False)
    corpus = render_score_corpus(**corpus_args)
    y, groups = corpus.target, corpus.groups
    train, test = group_holdout(y, groups, n_splits=4, random_state=args.seed)
    test_pieces = sorted(set(groups[test]))
    X_train = [corpus.data[i] for i in train]
    test_sets = {"unseen pieces": ([corpus.data[i] for i in test], y[test])}
    variations = {"unseen instruments": ClipVariation(instruments=tuple(unseen_programs))}
    if unseen_font is not None:
        variations["unseen soundfont"] = ClipVariation(soundfont=unseen_font)
    variations.update({name: ClipVariation(**change) for name, change in SHIFTS})
    for name, variation in variations.items():
        varied = render_score_corpus(**corpus_args, variation=variation, pieces=test_pieces)
        # the same clips, one thing changed
        assert list(varied.track_ids) == list(corpus.track_ids[test]), name
        test_sets[name] = (varied.data, varied.target)
    for name, semitones in RESAMPLED:
        test_sets[name] = (resampled(test_sets["unseen pieces"][0], semitones), y[test])
    render_seconds = time.perf_counter() - started

    models = {}
    for model in MODELS:
        if model == "default":
            params = {"clf__verbose": 0, **pipeline_overrides(args.set)}
            if args.epochs is not None:
                params["clf__max_epochs"] = args.epochs
            estimator = make_genre_pipeline(random_state=args.seed, **params)
        elif model == "classic":
            estimator = make_baseline_pipeline(features="classic")
        else:
            estimator = make_baseline_pipeline()
        start = time.perf_counter()
        estimator.fit(X_train, y[train])
        fit_seconds = time.perf_counter() - start
        scores, confusion = {}, None
        for name in CONDITIONS:
            if name in skipped:
                scores[name] = None
                continue
            X_test, y_test = test_sets[name]
            predicted = estimator.predict(X_test)
            scores[name] = round(float(f1_score(y_test, predicted, average="macro")), 4)
            if name == "unseen pieces":
                confusion = confusion_matrix(y_test, predicted, labels=classes).tolist()
        models[model] = {
            "label": MODELS[model], "macro_f1": scores, "fit_seconds": round(fit_seconds, 1),
            # rows: true class, columns: predicted, both in the order of settings.classes
            "confusion_unseen_pieces": confusion,
            "train_accuracy": round(float(accuracy_score(y[train],
                                                         estimator.predict(X_train))), 4),
        }
    results = {
        "settings": {**{k: v for k, v in vars(args).items() if k not in ("out", "quick")},
                     "classes": classes, "quick": args.quick},
        "conditions": CONDITIONS,
        "skipped": skipped,
        "models": models,
        "held_out": {"instruments": unseen_programs, "train_instruments": train_programs,
                     "soundfont": None if unseen_font is None else Path(unseen_font).name,
                     "train_soundfonts": [Path(f).name for f in train_fonts]},
        "n_train": len(train), "n_test": len(test), "n_test_pieces": len(test_pieces),
        "render_seconds": round(render_seconds, 1),
        "machine": {"cpu_count": multiprocessing.cpu_count(), "platform": platform.platform()},
    }
    results["table"] = table(results)
    print(results["table"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    plot(results, out.with_suffix(".png"))
    return results


if __name__ == "__main__":
    main()
