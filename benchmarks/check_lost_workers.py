"""Does a parallel grid search lose joblib workers? The demo's sequence, three ways.

The demo renders its corpus in parallel, then runs ``GridSearchCV(n_jobs=-1)``. loky
records each worker's memory after its first task and replaces the worker when, after a
later task, it holds 300 MB more ("A worker stopped while some jobs were given to the
executor"). Each variant runs in a fresh process: a few short tasks first (what rendering a
clip does), then the search over the default pipeline on 630 clips of 30 s:

- ``shared_pool``: the short tasks in joblib's default pool, whose workers then run the fits;
- ``own_pool``: the short tasks under :func:`sklearn_genre._jobs.own_workers` (what the
  library's corpus rendering and audio extraction do), so the fits get fresh workers;
- ``static_mmap_threshold``: as ``shared_pool``, with ``MALLOC_MMAP_THRESHOLD_=131072`` in
  the environment (freed arrays go back to the kernel at once; costs fit speed).

Prints lost-worker warnings and search time per variant; writes ``results/lost_workers.json``.

Usage::

    python benchmarks/check_lost_workers.py [--n-clips 630] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, sys, time, warnings
    import numpy as np
    from joblib import Parallel, delayed
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    def small_task(seed):  # what a corpus-rendering task does: import, one 30 s mel
        from sklearn_genre.audio import mel_spectrogram
        wave = np.random.default_rng(seed).normal(0, 0.1, 24000 * 30).astype(np.float32)
        return mel_spectrogram(wave, 24000).shape

    n_clips, epochs, own = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "own"
    from sklearn_genre._jobs import own_workers
    if own:
        with own_workers(-1):
            Parallel(n_jobs=-1)(delayed(small_task)(k) for k in range(8))
    else:
        Parallel(n_jobs=-1)(delayed(small_task)(k) for k in range(8))
    from sklearn_genre import make_genre_pipeline
    rng = np.random.default_rng(0)
    X = [rng.normal(-40, 10, (96, 1408)).astype(np.float32) for _ in range(n_clips)]
    y = np.array(list("abcdefg") * (n_clips // 7))
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = make_genre_pipeline(clf__max_epochs=epochs, clf__verbose=0, clf__random_state=0)
        GridSearchCV(pipe, {"clf__lr": [0.003, 0.01]}, cv=StratifiedKFold(3),
                     n_jobs=-1).fit(X, y)
    lost = sum("worker stopped" in str(w.message) for w in caught)
    print(json.dumps({"lost_workers": lost,
                      "search_seconds": round(time.perf_counter() - started, 1)}))
""")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=630)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "lost_workers.json"))
    args = parser.parse_args(argv)
    results = {"n_clips": args.n_clips, "epochs": args.epochs, "cpu_count": os.cpu_count()}
    variants = {"shared_pool": ("shared", {}), "own_pool": ("own", {}),
                "static_mmap_threshold": ("shared", {"MALLOC_MMAP_THRESHOLD_": "131072"})}
    print("| variant | lost workers | search s |\n|---|---|---|")
    for name, (pool, extra) in variants.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(extra)
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.n_clips),
                              str(args.epochs), pool], env=env, capture_output=True,
                             text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {name} | {results[name]['lost_workers']} | "
              f"{results[name]['search_seconds']} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
