"""MTG-Jamendo loader: metadata loading time, and bounded memory over a large dump.

1. Metadata: read the three official split-0 genre TSVs (about 55,000 tracks), and run
   ``load_mtg_jamendo`` on the train TSV against a dump that has only some of the files
   (``on_missing="skip"``: one existence/header check per track).
2. Memory: generate ``.npy`` mels for the first ``--n-tracks`` tracks of the train TSV, with
   the real durations (full-length tracks, 46.875 frames/s), then, in a fresh process, stream
   the whole dump through ``MelNormalizer().fit`` (band statistics) and ``MelStatistics``
   (per-track features) and report the peak resident memory against the dump's size.

Usage::

    python benchmarks/bench_mtg_loader.py --splits-dir ../shared/data/mtg-jamendo/data/splits
    python benchmarks/bench_mtg_loader.py --quick --splits-dir ...
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def generate_dump(tsv_rows, mel_dir: Path, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    total = 0
    for row in tsv_rows:
        n_frames = max(1, int(row["duration"] * 46.875))
        path = mel_dir / row["path"].replace(".mp3", ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        mel = rng.standard_normal((96, n_frames), dtype=np.float32)
        mel *= 20.0
        mel -= 60.0
        np.save(path, mel)
        total += mel.nbytes
    return total


def stream(tsv, mel_dir):
    """Runs in a fresh process: returns seconds and peak RSS of a full pass."""
    from sklearn_genre import MelNormalizer, MelStatistics
    from sklearn_genre.datasets import load_mtg_jamendo

    start = time.perf_counter()
    data = load_mtg_jamendo(tsv, mel_dir, single_label=False)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    norm = MelNormalizer().fit(data.data)
    features = MelStatistics().fit_transform(norm.transform(data.data))
    seconds = time.perf_counter() - start
    return {"n_tracks": len(data.target), "features_shape": list(features.shape),
            "pass_seconds": round(seconds, 1), "rss_after_index_mb": round(rss_loaded),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits-dir", required=True,
                        help="MTG-Jamendo data/splits folder (with split-0/)")
    parser.add_argument("--n-tracks", type=int, default=3000)
    parser.add_argument("--work-dir", default=None, help="where to write the dump (temp)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mtg.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_tracks = 20

    from sklearn_genre.datasets import load_mtg_jamendo, read_mtg_tsv

    folder = Path(args.splits_dir) / "split-0"
    tsvs = [folder / f"autotagging_genre-{part}.tsv" for part in ("train", "validation", "test")]
    start = time.perf_counter()
    n_rows = sum(len(read_mtg_tsv(t)) for t in tsvs)
    results = {"metadata_tracks": n_rows,
               "metadata_read_seconds": round(time.perf_counter() - start, 3)}

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="sg_mtg_"))
    try:
        rows = read_mtg_tsv(tsvs[0])[:args.n_tracks]
        mel_dir = work / "melspecs"
        start = time.perf_counter()
        dump_bytes = generate_dump(rows, mel_dir)
        results["generate_seconds"] = round(time.perf_counter() - start, 1)
        subset = work / "subset.tsv"
        lines = tsvs[0].read_text().splitlines()
        subset.write_text("\n".join(lines[:args.n_tracks + 1]) + "\n")

        start = time.perf_counter()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            full = load_mtg_jamendo(tsvs[0], mel_dir, single_label=False, on_missing="skip")
        results["load_full_train_tsv_seconds"] = round(time.perf_counter() - start, 2)
        results["load_full_train_tsv_found"] = len(full.target)

        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            results.update(pool.apply(stream, (str(subset), str(mel_dir))))
        results["dump_gb"] = round(dump_bytes / 1e9, 2)
        results["mean_track_minutes"] = round(
            float(np.mean([r["duration"] for r in rows])) / 60, 2)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print("| figure | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key} | {value} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
