"""Rendering speed of the score corpus: cold, with the scores' notes cached, and cached.

Renders ``render_score_corpus`` into an empty data home (cold: every score parsed, every
clip synthesized), then again with a new clip cache but the notes kept (what a variation
of an existing corpus costs), then once more from the cache.

Usage::

    python benchmarks/bench_corpus.py [--n-per-class 60] [--clip-seconds 15] [--n-jobs 2]
        [--instrumentation genre] [--soundfonts installed] [--effects random]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=60)
    parser.add_argument("--clip-seconds", type=float, default=15.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--classes", nargs="*", default=None)
    parser.add_argument("--instrumentation", default=None)
    parser.add_argument("--soundfonts", default=None,
                        help="'installed' or a comma-separated list of files")
    parser.add_argument("--effects", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"
                                             / "corpus_render.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n_per_class, args.clip_seconds, args.classes = 2, 3.0, ["jig", "palestrina"]

    from sklearn_genre.datasets import render_score_corpus, score_catalogue
    from sklearn_genre.datasets._corpus import CORPUS_VERSION

    options = {"classes": args.classes, "n_per_class": args.n_per_class,
               "clip_seconds": args.clip_seconds, "n_jobs": args.n_jobs, "verbose": False}
    # only what the caller set, so that the script also runs against versions without them
    if args.instrumentation:
        options["instrumentation"] = args.instrumentation
    if args.soundfonts:
        options["soundfonts"] = (args.soundfonts if args.soundfonts == "installed"
                                 else args.soundfonts.split(","))
    if args.effects:
        options["effects"] = args.effects
    start = time.perf_counter()
    score_catalogue()  # read once per process whatever the cache
    catalogue_seconds = time.perf_counter() - start
    results = {"options": {k: v for k, v in options.items() if k != "verbose"},
               "cpu_count": os.cpu_count(), "catalogue_seconds": round(catalogue_seconds, 2)}
    with tempfile.TemporaryDirectory() as home:
        for phase in ("cold", "notes_cached", "cached"):
            if phase == "notes_cached":
                shutil.rmtree(Path(home) / "score_corpus" / f"v{CORPUS_VERSION}")
            start = time.perf_counter()
            corpus = render_score_corpus(**options, data_home=home)
            seconds = time.perf_counter() - start
            results[phase] = {"seconds": round(seconds, 2), "n_clips": len(corpus.data),
                              "ms_per_clip": round(1000 * seconds / len(corpus.data), 1)}
    print("| phase | clips | seconds | ms per clip |\n|---|---|---|---|")
    for phase in ("cold", "notes_cached", "cached"):
        row = results[phase]
        print(f"| {phase} | {row['n_clips']} | {row['seconds']} | {row['ms_per_clip']} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
