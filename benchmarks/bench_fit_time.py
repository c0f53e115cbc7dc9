"""Pipeline fit time per track: the default pipeline against the other presets.

Random 30 s tracks (96 x 1400 frames, 4 classes), each preset's pipeline fitted for
``--epochs`` epochs, timed, and scaled to the preset's own ``max_epochs``: seconds of a
whole default fit per training track, on this machine's threads. Also records the
network's floating-point operations per training window, which is where the time goes.

Then the default pipeline against ``CRNNClassifier()`` alone on pre-windowed arrays (the
same network, epochs and number of training windows per track: 4 of 128 frames), fits
interleaved: ``classifier_over_pipeline`` is the classifier's fit time over the pipeline's
(1.0: the pipeline's random windows and normalization cost nothing).
Last, the default pipeline with its convolution weights channels-last (as built) against
the same network with them in the default (contiguous) layout, fits and predictions
interleaved: ``conv_layout`` holds both times and the speed-ups.

Usage::

    python benchmarks/bench_fit_time.py [--tracks 64] [--epochs 3] [--repeat 3]

Writes ``benchmarks/results/fit_time.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

PRESETS = ("default", "rhythm", "seed")


def flops_per_window(pipeline, n_mels: int = 96) -> int:
    """Floating-point operations of one training window's forward pass through the fitted
    pipeline's network (``torch.utils.flop_counter``: convolutions and matrix products)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    clf = pipeline[-1]
    frames = clf.train_crop_frames or pipeline.get_params().get("window__window_frames") \
        or 1400
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        clf.module_.eval()(torch.zeros(1, 1, n_mels, frames))
    return int(counter.get_total_flops())


def main(argv=None):
    from sklearn_genre import make_genre_pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "fit_time.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.tracks, args.epochs, args.repeat = 8, 1, 1
    rng = np.random.default_rng(0)
    X = rng.normal(-40, 10, (args.tracks, 96, 1400)).astype(np.float32)
    y = np.array(list("abcd") * (args.tracks // 4))
    results = {"tracks": args.tracks, "epochs_timed": args.epochs,
               "cpu_count": multiprocessing.cpu_count(), "presets": {}}
    print("| preset | epochs | training windows per track and epoch | s per track "
          "(whole fit) | forward FLOPs per window | vs default |\n|---|---|---|---|---|---|")
    for preset in PRESETS:
        times = []
        for _ in range(args.repeat):
            pipe = make_genre_pipeline(preset, clf__max_epochs=args.epochs, clf__verbose=0,
                                       clf__train_split=None, clf__patience=None,
                                       random_state=0)
            start = time.perf_counter()
            pipe.fit(X, y)
            times.append(time.perf_counter() - start)
        full_epochs = make_genre_pipeline(preset)[-1].max_epochs
        windows = make_genre_pipeline(preset).get_params().get("window__train_windows") or \
            make_genre_pipeline(preset).get_params().get("window__n_windows") or 1
        per_track = float(np.median(times)) / args.epochs * full_epochs / args.tracks
        results["presets"][preset] = {
            "seconds": [round(t, 2) for t in times], "max_epochs": full_epochs,
            "windows_per_track": windows, "seconds_per_track": round(per_track, 4),
            "flops_per_window": flops_per_window(pipe)}
    from sklearn_genre import CRNNClassifier, MelNormalizer, MelWindower

    windows = MelWindower(n_windows=4, window_frames=128).fit_transform(
        MelNormalizer().fit_transform(X))
    pipeline_times, classifier_times = [], []
    for _ in range(args.repeat):
        pipe = make_genre_pipeline(clf__max_epochs=args.epochs, clf__verbose=0, random_state=0)
        start = time.perf_counter()
        pipe.fit(X, y)
        pipeline_times.append(time.perf_counter() - start)
        clf = CRNNClassifier(max_epochs=args.epochs, verbose=0, random_state=0)
        start = time.perf_counter()
        clf.fit(windows, y)
        classifier_times.append(time.perf_counter() - start)
    results["pipeline_vs_classifier"] = {
        "pipeline_seconds": [round(t, 2) for t in pipeline_times],
        "classifier_seconds": [round(t, 2) for t in classifier_times],
        "classifier_over_pipeline": round(float(np.median(classifier_times)
                                                / np.median(pipeline_times)), 3)}
    results["conv_layout"] = conv_layout(X, y, args.epochs, args.repeat)
    base = results["presets"]["default"]["seconds_per_track"]
    for preset, row in results["presets"].items():
        row["ratio_to_default"] = round(row["seconds_per_track"] / base, 3)
        print(f"| {preset} | {row['max_epochs']} | {row['windows_per_track']} | "
              f"{row['seconds_per_track']:.3f} | {row['flops_per_window'] / 1e6:.0f} M | "
              f"{row['ratio_to_default']:.2f} |")
    ratio = results["pipeline_vs_classifier"]["classifier_over_pipeline"]
    print(f"\n| classifier alone on pre-windowed arrays / default pipeline, fit time | "
          f"{ratio:.2f} |")
    layout = results["conv_layout"]
    print(f"| channels-last convolution weights / contiguous ones: fit {layout['fit_speedup']:.2f}"
          f" x, prediction {layout['predict_speedup']:.2f} x faster |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


def conv_layout(X, y, epochs: int, repeat: int) -> dict:
    """Fit and prediction seconds of the default pipeline as built (channels-last
    convolution weights) and with the weights contiguous, interleaved."""
    import torch

    from sklearn_genre import make_genre_pipeline
    from sklearn_genre.engine import ShortChunkCRNN

    class ContiguousShortChunkCRNN(ShortChunkCRNN):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.convs.to(memory_format=torch.contiguous_format)

    times = {"channels_last": ([], []), "contiguous": ([], [])}
    for _ in range(repeat):
        for name, module in (("channels_last", ShortChunkCRNN),
                             ("contiguous", ContiguousShortChunkCRNN)):
            pipe = make_genre_pipeline(clf__module=module, clf__max_epochs=epochs,
                                       clf__verbose=0, random_state=0)
            start = time.perf_counter()
            pipe.fit(X, y)
            times[name][0].append(time.perf_counter() - start)
            start = time.perf_counter()
            pipe.predict_proba(X)
            times[name][1].append(time.perf_counter() - start)
    out = {}
    for name, (fits, predictions) in times.items():
        out[f"{name}_fit_seconds"] = [round(t, 2) for t in fits]
        out[f"{name}_predict_seconds"] = [round(t, 3) for t in predictions]
    for key, index in (("fit_speedup", 0), ("predict_speedup", 1)):
        out[key] = round(float(np.median(times["contiguous"][index])
                               / np.median(times["channels_last"][index])), 3)
    return out


if __name__ == "__main__":
    main()
