"""Audio to genre: mel extraction speed, and end-to-end prediction time for a long track.

Measures, on real music (score-corpus renderings written as FLAC files):
- extraction speed of ``MelSpectrogram`` in seconds of audio per second of compute, on one
  core (``n_jobs=1``) and on all cores (``n_jobs=-1``);
- what running the recipe's BLAS calls on one thread costs (serial extraction time, pinned
  over unpinned; the pinning makes mels independent of thread counts);
- the wall time of ``python -m sklearn_genre predict``'s work for one 4-minute track: decode,
  mel, windows, CRNN (in-process, after the model is loaded), with and without the
  ``--segments`` timeline.

Medians of ``--repeats`` runs in one process. Usage::

    python benchmarks/bench_audio.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def render_music(seconds: float, seed: int) -> np.ndarray:
    """A real piece of music (a reel from Ryan's Mammoth Collection) at 24 kHz."""
    from sklearn_genre.datasets import score_catalogue
    from sklearn_genre.datasets._corpus import ClipPlan, _note_events, _synthesize

    rows = score_catalogue().query("label == 'reel' and status == 'ok'")
    row = rows.iloc[seed % len(rows)]
    plan = ClipPlan("reel", row.piece_id, row.location, [40, 0, 73, 24][seed % 4], 1.0, 0.0,
                    seed, seconds)
    return _synthesize(_note_events(row.location), plan)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-files", type=int, default=16)
    parser.add_argument("--file-seconds", type=float, default=60.0)
    parser.add_argument("--track-seconds", type=float, default=240.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "audio.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_files, args.file_seconds, args.track_seconds, args.repeats = 2, 5.0, 10.0, 1

    import soundfile

    from sklearn_genre import MelSpectrogram, genre_timeline, make_genre_pipeline
    from sklearn_genre import audio as audio_module
    from sklearn_genre.audio import load_audio_mel

    results = {"cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for k in range(args.n_files):
            path = Path(tmp) / f"piece{k}.flac"
            soundfile.write(path, render_music(args.file_seconds, k), 24000)
            files.append(str(path))
        audio_seconds = args.n_files * args.file_seconds
        MelSpectrogram().transform(files[:1])  # warm-up: imports, filter bank
        for label, n_jobs in (("one_core", 1), ("all_cores", -1)):
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                MelSpectrogram(n_jobs=n_jobs).transform(files)
                times.append(time.perf_counter() - start)
            results[f"extraction_realtime_factor_{label}"] = round(
                audio_seconds / float(np.median(times)), 1)
        # what pinning the recipe's BLAS calls to one thread costs: serial extraction with
        # the BLAS library's own thread count against the pinned recipe, interleaved
        pinned, unpinned = [], []
        for _ in range(max(args.repeats, 5)):
            for times, threads in ((pinned, 1), (unpinned, None)):
                audio_module._BLAS_THREADS = threads
                start = time.perf_counter()
                MelSpectrogram().transform(files)
                times.append(time.perf_counter() - start)
        audio_module._BLAS_THREADS = 1
        results["extraction_pinned_blas_time_ratio"] = round(
            float(np.median(pinned) / np.median(unpinned)), 3)

        # a model of the default pipeline (its cost does not depend on what it learned)
        rng = np.random.default_rng(0)
        mels = [rng.normal(-60, 20, (96, 1408)).astype(np.float32) for _ in range(16)]
        model = make_genre_pipeline(clf__max_epochs=1, clf__verbose=0,
                                    clf__random_state=0).fit(mels, ["a", "b"] * 8)
        track = Path(tmp) / "track.flac"
        soundfile.write(track, render_music(args.track_seconds, 99), 24000)
        for label, segments in (("predict_4min_track_seconds", False),
                                ("predict_4min_track_with_segments_seconds", True)):
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                mel = load_audio_mel(str(track))
                model.predict_proba([mel])
                if segments:
                    genre_timeline(model, [mel])
                times.append(time.perf_counter() - start)
            results[label] = round(float(np.median(times)), 3)
    results.update(n_files=args.n_files, file_seconds=args.file_seconds,
                   track_seconds=args.track_seconds, repeats=args.repeats)
    print("| figure | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
