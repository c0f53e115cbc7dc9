"""Predicting a folder of audio files: the command line's throughput against predict_proba.

Writes ``--n-files`` generated audio files (WAV, 22.05 kHz; tones, harmonics, noise and an
envelope, different in every file) into class folders of a temporary folder, trains the
default pipeline for one epoch on random mels (throughput does not depend on what it
learned), saves it (``.sgm``), then measures:

- ``cli``: ``python -m sklearn_genre predict MODEL DIR --format csv --progress`` end to end
  in a subprocess (interpreter start, imports, model load, decoding, predictions, CSV), and
  with ``--n-jobs 2`` (files decoded in two worker processes); ``startup_and_model_load``:
  a process that only imports the library and loads the model;
- ``in_process``: the same work in this process (:func:`sklearn_genre._folder.predict_files`
  with the command line's batch size), split into the seconds spent reading files (decode,
  resample, mel) and the seconds in the model calls;
- ``predict_proba``: the model on the already-computed mels of the same files, in one call.

The headline figure is ``ratio_excluding_decoding``: tracks per second of the
folder prediction's model calls over tracks per second of ``predict_proba`` on the same
arrays (1.0: as fast; the target is at least 0.9). ``in_process_end_to_end_ratio`` includes
decoding. Best of ``--repeats`` runs for the in-process figures (the machine is shared).

Usage::

    python benchmarks/bench_predict_folder.py [--n-files 500] [--seconds 10 30] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
CLASSES = ("blues", "classical", "jazz", "reel", "rock")


def write_files(root: Path, n_files: int, seconds: float, seed: int = 0) -> list[Path]:
    """Generated audio files, one class folder per entry of CLASSES."""
    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    paths = []
    for i in range(n_files):
        folder = root / CLASSES[i % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        f0 = rng.uniform(80, 800)
        phases = rng.uniform(0, 2 * np.pi, 4)
        wave = sum(rng.uniform(0.1, 0.5) / k * np.sin(2 * np.pi * k * f0 * t + phases[k - 1])
                   for k in range(1, 5))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 4.0) * t) ** 2
        wave = wave * envelope + 0.02 * rng.normal(size=t.size)
        wave = (0.8 * wave / np.abs(wave).max()).astype(np.float32)
        paths.append(folder / f"track{i:04d}.wav")
        soundfile.write(paths[-1], wave, SAMPLE_RATE, subtype="PCM_16")
    return paths


def train_model(path: Path, seed: int = 0) -> Path:
    from sklearn_genre import make_genre_pipeline, save

    rng = np.random.default_rng(seed)
    X = [rng.normal(-40, 10, (96, 470)).astype(np.float32) for _ in range(20)]
    y = [CLASSES[i % len(CLASSES)] for i in range(20)]
    model = make_genre_pipeline(clf__max_epochs=1, clf__verbose=0, random_state=seed)
    return save(model.fit(X, y), path)


def measure(root: Path, model_path: Path, *, batch_size: int, repeats: int,
            parallel_jobs: int | None) -> dict:
    from sklearn_genre import load
    from sklearn_genre._folder import Timings, find_files, predict_files, read_mel

    model = load(model_path)
    paths = find_files([root])
    n = len(paths)
    out = root.parent / "predictions.csv"
    started = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "sklearn_genre", "predict", str(model_path),
                          str(root), "--format", "csv", "--output", str(out), "--progress",
                          "--batch-size", str(batch_size)], capture_output=True, text=True)
    cli_seconds = time.perf_counter() - started
    if cli.returncode != 0:
        raise RuntimeError(f"the command line failed: {cli.stderr[-2000:]}")
    n_rows = sum(1 for _ in open(out)) - 1
    progress_shown = f"{n}/{n}" in cli.stderr
    parallel_seconds = None
    if parallel_jobs:
        started = time.perf_counter()
        parallel = subprocess.run([sys.executable, "-m", "sklearn_genre", "predict",
                                   str(model_path), str(root), "--format", "csv", "--output",
                                   str(out), "--batch-size", str(batch_size), "--n-jobs",
                                   str(parallel_jobs)], capture_output=True, text=True)
        parallel_seconds = time.perf_counter() - started
        if parallel.returncode != 0:
            raise RuntimeError(f"the command line failed: {parallel.stderr[-2000:]}")
    started = time.perf_counter()  # what every command pays before its first file
    subprocess.run([sys.executable, "-c", "import sys, sklearn_genre; "
                    "sklearn_genre.load(sys.argv[1])", str(model_path)], check=True)
    startup_seconds = time.perf_counter() - started

    started = time.perf_counter()
    mels = [read_mel(p) for p in paths]
    decode_seconds = time.perf_counter() - started
    folder, proba_seconds = [], []
    for _ in range(repeats):  # interleaved: both see the same load of a shared machine
        started = time.perf_counter()
        model.predict_proba(mels)
        proba_seconds.append(time.perf_counter() - started)
        timings = Timings()
        started = time.perf_counter()
        results = list(predict_files(model, paths, batch_size=batch_size, timings=timings,
                                     verbose=0))
        folder.append((time.perf_counter() - started, timings))
        assert len(results) == n and timings.n_failed == 0
    wall, timings = min(folder, key=lambda item: item[1].predict_seconds)
    best_wall = min(w for w, _ in folder)
    proba = min(proba_seconds)
    return {
        "n_files": n, "csv_rows": n_rows, "cli_progress_shown": progress_shown,
        "cli_seconds": round(cli_seconds, 2), "cli_files_per_s": round(n / cli_seconds, 1),
        "cli_parallel_n_jobs": parallel_jobs,
        "cli_parallel_seconds": parallel_seconds and round(parallel_seconds, 2),
        "cli_parallel_files_per_s": parallel_seconds and round(n / parallel_seconds, 1),
        "startup_and_model_load_seconds": round(startup_seconds, 2),
        "in_process_seconds": round(best_wall, 2),
        "in_process_files_per_s": round(n / best_wall, 1),
        "read_seconds": round(timings.read_seconds, 2),
        "decode_only_seconds": round(decode_seconds, 2),
        "folder_predict_seconds": round(timings.predict_seconds, 3),
        "folder_predict_tracks_per_s": round(n / timings.predict_seconds, 1),
        "predict_proba_seconds": round(proba, 3),
        "predict_proba_tracks_per_s": round(n / proba, 1),
        "ratio_excluding_decoding": round(proba / timings.predict_seconds, 3),
        "in_process_end_to_end_ratio": round(proba / best_wall, 3),
        "cli_end_to_end_ratio": round(proba / cli_seconds, 3),
        "all_predict_proba_seconds": [round(s, 3) for s in proba_seconds],
        "all_folder_predict_seconds": [round(t.predict_seconds, 3) for _, t in folder],
        "wall_of_best_model_time": round(wall, 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-files", type=int, default=500)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0],
                        help="file lengths to measure, one run each")
    parser.add_argument("--batch-size", type=int, default=32, help="the command line's")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--parallel-jobs", type=int, default=2,
                        help="also time the command line with --n-jobs this (0: not)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                            "predict_folder.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_files, args.seconds, args.repeats, args.parallel_jobs = 12, [2.0], 1, 0

    import torch

    results = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
               "sample_rate": SAMPLE_RATE, "batch_size": args.batch_size,
               "repeats": args.repeats, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = train_model(Path(tmp) / "genre.sgm")
        for seconds in args.seconds:
            root = Path(tmp) / f"music_{seconds:g}s" / "music"
            started = time.perf_counter()
            write_files(root, args.n_files, seconds)
            print(f"wrote {args.n_files} files of {seconds:g} s in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            results["runs"][f"{seconds:g}s"] = {
                "file_seconds": seconds,
                **measure(root, model_path, batch_size=args.batch_size,
                          repeats=args.repeats, parallel_jobs=args.parallel_jobs)}
    keys = list(next(iter(results["runs"].values())))
    print("| figure | " + " | ".join(results["runs"]) + " |")
    print("|---|" + "---|" * len(results["runs"]))
    for key in keys:
        print(f"| {key} | " + " | ".join(str(run[key]) for run in results["runs"].values())
              + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
