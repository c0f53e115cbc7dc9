"""Audio collections you hold: three models on the collection's own split, and loading costs.

Models (``MODELS``): ``default``, the library's default pipeline; ``seed``, the seed-style
model (``make_genre_pipeline(preset="seed")``); ``band_stats_logreg``, a logistic regression
on per-band mean and standard deviation. Each is fitted on the training part (train and
validation where the collection has both) and scored on the test part of:

- GTZAN: the fault-filtered, artist-disjoint split (Kereliuk, Sturm & Larsen 2015);
- FMA: the official ``set.split``;
- Ballroom (no official split, no artists): the first fold of a 5-fold split grouped by the
  album named in the file names;
- a class-per-folder collection: the first fold of a 5-fold split grouped by ``--groups``
  (artist CSV); without it each file is its own group, which the table says.

Never a random split of tracks. Prints a markdown table, and updates one results file
(``benchmarks/results/collections.json``: each run replaces its own section).

``--generated N`` measures loading instead: it writes N generated WAV clips (30 s,
22.05 kHz, class-per-folder) to a temporary folder, then times ``load_audio_folder`` cold
(``n_jobs=2``, empty cache), again (cached) and once more with ``lazy=True`` (the cache's
files memory-mapped), each in a fresh process as a script run again, with the peak memory
of that process and its worker processes (sampled every 50 ms): summed RSS (psutil), an
upper bound since it counts shared library pages once per process, and summed PSS.

Usage::

    python benchmarks/bench_collections.py --gtzan ~/data/gtzan
    python benchmarks/bench_collections.py --fma ~/data/fma --fma-metadata ~/data/fma
    python benchmarks/bench_collections.py --ballroom ~/data/ballroom
    python benchmarks/bench_collections.py --audio-dir ~/music --groups artists.csv
    python benchmarks/bench_collections.py --generated 1000
    python benchmarks/bench_collections.py --quick --out /tmp/collections.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "collections.json"
#: Small settings of the CRNN pipelines for --quick (seconds, not a result), per model.
QUICK_PARAMS = {
    "default": {"window__n_windows": 2, "window__window_frames": 64,
                "window__train_windows": 2, "clf__max_epochs": 2, "clf__batch_size": 8},
    "seed": {"trim__n_frames": 256, "clf__max_epochs": 2, "clf__batch_size": 8},
}


def model_factories():
    """``{name: factory(**params) -> unfitted estimator}``."""
    from sklearn_genre import make_baseline_pipeline, make_genre_pipeline

    return {"default": make_genre_pipeline,
            "seed": lambda **p: make_genre_pipeline(preset="seed", **p),
            "band_stats_logreg": make_baseline_pipeline}


def write_generated(root: Path, n_clips: int, seconds: float, sample_rate: int = 22050,
                    n_classes: int = 10, seed: int = 0) -> float:
    """Write ``n_clips`` WAV clips (16-bit) in class folders; return the GB written."""
    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate), dtype=np.float32) / sample_rate
    total = 0
    for k in range(n_clips):
        label = k % n_classes
        pitch = 110.0 * 2 ** (label / 2 + rng.uniform(-0.1, 0.1))
        beat = 1.0 + label / 4  # pulses per second, the class's "tempo"
        wave = sum(np.sin(2 * np.pi * pitch * h * t + rng.uniform(0, 6.3)) / h
                   for h in (1, 2, 3))
        wave *= 0.5 + 0.5 * (np.sin(2 * np.pi * beat * t) > 0)
        wave += 0.05 * rng.standard_normal(t.size, dtype=np.float32)
        path = root / f"class{label}" / f"clip{k:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, (0.2 * wave).astype(np.float32), sample_rate, subtype="PCM_16")
        total += path.stat().st_size
    return total / 1e9


def _pss_bytes(pid: int):
    """Proportional set size (shared pages split between the processes sharing them)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak summed RSS and PSS (MB) of a process and its children, sampled in a thread.

    Summed RSS counts the pages processes share (libraries) once per process: an upper
    bound. Summed PSS splits them (Linux only; None elsewhere).
    """

    def __init__(self, pid=None, interval: float = 0.05, pss_every: int = 10):
        import psutil

        # reading PSS makes the kernel walk page tables: sampled 10 x less often than RSS
        self.process, self.interval, self.pss_every = psutil.Process(pid), interval, pss_every
        self.peak, self.peak_pss, self._ticks = 0.0, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self, with_pss: bool = True):
        """``(summed RSS, summed PSS or None)`` in MB, now."""
        import psutil

        rss, pss = 0, 0 if with_pss else None
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                rss += proc.memory_info().rss
                share = _pss_bytes(proc.pid) if with_pss else None
                pss = None if pss is None or share is None else pss + share
            except psutil.Error:  # a worker that just exited
                pass
        return rss / 2**20, None if pss is None else pss / 2**20

    def _update(self, with_pss: bool):
        rss, pss = self.sample(with_pss)
        self.peak = max(self.peak, rss)
        if with_pss:
            self.peak_pss = None if pss is None or self.peak_pss is None else max(
                self.peak_pss, pss)

    def _run(self):
        while not self._stop.is_set():
            self._update(with_pss=self._ticks % self.pss_every == 0)
            self._ticks += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update(with_pss=True)


def load_once(root: str, home: str, n_jobs: int, lazy: bool, queue) -> None:
    """Runs in a fresh process (as a user's script would): one timed ``load_audio_folder``."""
    import sklearn_genre.datasets as datasets  # imported before the clock starts

    rss_imported = PeakMemory().sample(with_pss=False)[0]
    start = time.perf_counter()
    data = datasets.load_audio_folder(root, n_jobs=n_jobs, data_home=home, lazy=lazy,
                                      verbose=False)
    seconds = time.perf_counter() - start
    queue.put({"seconds": seconds, "n_tracks": len(data.data), "failures": data.failures,
               "rss_after_import_mb": rss_imported,
               "mels_mb": None if lazy else sum(m.nbytes for m in data.data) / 2**20})


def measure_loading(n_clips: int, seconds: float, n_jobs: int, work: Path,
                    n_classes: int = 10) -> dict:
    """Cold and cached ``load_audio_folder`` on generated clips: seconds and peak memory.

    Each call runs in a fresh process, whose memory (with its workers') is sampled from
    here: the first with an empty cache, the second reading it, as a script run twice.
    """
    import multiprocessing
    import queue as queues

    root, home = work / "clips", work / "cache"
    start = time.perf_counter()
    audio_gb = write_generated(root, n_clips, seconds, n_classes=n_classes)
    record = {"n_clips": n_clips, "clip_seconds": seconds, "sample_rate": 22050,
              "n_jobs": n_jobs, "audio_gb": round(audio_gb, 2),
              "write_seconds": round(time.perf_counter() - start, 1)}
    context = multiprocessing.get_context("spawn")
    for phase, lazy in (("cold", False), ("cached", False), ("cached_lazy", True)):
        results = context.Queue()
        child = context.Process(target=load_once,
                                args=(str(root), str(home), n_jobs, lazy, results))
        child.start()
        with PeakMemory(child.pid) as memory:
            while True:
                try:
                    result = results.get(timeout=1.0)
                    break
                except queues.Empty:
                    if not child.is_alive():
                        raise RuntimeError(f"the {phase} load died (exit {child.exitcode})"
                                           ) from None
        child.join()
        assert result["n_tracks"] == n_clips and not result["failures"], result["failures"]
        record[f"{phase}_seconds"] = round(result["seconds"], 2)
        record[f"{phase}_peak_rss_mb"] = round(memory.peak)
        record[f"{phase}_peak_pss_mb"] = (None if memory.peak_pss is None
                                          else round(memory.peak_pss))
        record["rss_after_import_mb"] = round(result["rss_after_import_mb"])
        if not lazy:
            record["mels_mb"] = round(result["mels_mb"])
    record["cold_files_per_second"] = round(n_clips / record["cold_seconds"], 1)
    record["cache_mb"] = round(sum(p.stat().st_size for p in home.rglob("*.npy")) / 2**20)
    return record


def load_collection(args, quick_root=None):
    """``(name, split description, X_train, y_train, X_test, y_test)``."""
    from sklearn.model_selection import StratifiedGroupKFold

    from sklearn_genre.datasets import (
        load_audio_folder,
        load_ballroom,
        load_fma,
        load_gtzan,
        official_splits,
    )

    options = {"n_jobs": args.n_jobs, "data_home": args.data_home, "verbose": True}
    if args.gtzan or args.fma:
        if args.gtzan:
            name, split = "GTZAN", "fault-filtered (Kereliuk et al. 2015)"
            data = load_gtzan(args.gtzan, split="fault-filtered", **options)
        else:
            name, split = f"FMA {args.fma_subset}", "official set.split"
            data = load_fma(args.fma, args.fma_metadata or args.fma, subset=args.fma_subset,
                            **options)
        parts = official_splits(data)
        train, test = parts.train_validation, parts.test
        return name, split, train.data, train.target, test.data, test.target
    if args.ballroom:
        data = load_ballroom(args.ballroom, **options)
        name, groups, split = "Ballroom", data.albums, "album-grouped 5-fold, fold 1"
    else:
        root = quick_root or args.audio_dir
        data = load_audio_folder(root, groups=args.groups, **options)
        name, groups = f"audio folder {Path(root).name}", data.groups
        split = ("artist-grouped 5-fold, fold 1" if args.groups else
                 "5-fold, fold 1, each file its own group (no artist info)")
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():  # small classes: "fewer members than n_splits"
        warnings.simplefilter("ignore", UserWarning)
        train, test = next(folds.split(data.data, data.target, groups))
    X_train, X_test = [data.data[i] for i in train], [data.data[i] for i in test]
    return name, split, X_train, data.target[train], X_test, data.target[test]


def evaluate(collection, quick: bool, seed: int = 0):
    """One row per model: fit on train, score on test."""
    from sklearn.metrics import accuracy_score, f1_score

    name, split, X_train, y_train, X_test, y_test = collection
    rows = []
    for model_name, factory in model_factories().items():
        params = ({} if model_name == "band_stats_logreg" else
                  {"clf__random_state": seed, "clf__verbose": 0,
                   **(QUICK_PARAMS[model_name] if quick else {})})
        model = factory(**params)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        y_pred = model.predict(X_test)
        rows.append({"model": model_name, "collection": name, "split": split,
                     "n_train": len(y_train), "n_test": len(y_test),
                     "test_accuracy": round(float(accuracy_score(y_test, y_pred)), 3),
                     "macro_f1": round(float(f1_score(y_test, y_pred, average="macro")), 3),
                     "train_accuracy": round(float(accuracy_score(y_train,
                                                                  model.predict(X_train))), 3),
                     "fit_seconds": round(fit_seconds, 1)})
    return rows


def table(rows) -> str:
    columns = ["model", "collection", "split", "n_train", "n_test", "test_accuracy",
               "macro_f1", "train_accuracy", "fit_seconds"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict:
    from importlib import metadata

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            **{name: metadata.version(name) for name in ("librosa", "soundfile", "soxr",
                                                         "torch", "scikit-learn")}}


def update_results(path: Path, section: str, key: str, value) -> dict:
    """Replace ``results[section][key]`` in the one results file; return the whole file."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results.setdefault(section, {})[key] = value
    results["machine"] = machine()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, path)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--gtzan", help="GTZAN copy (genres/ or genres_original/)")
    source.add_argument("--fma", help="folder holding fma_<subset>/")
    source.add_argument("--ballroom", help="folder holding BallroomData/")
    source.add_argument("--audio-dir", help="class-per-folder collection")
    source.add_argument("--generated", type=int, metavar="N",
                        help="measure loading N generated 30 s clips instead")
    parser.add_argument("--fma-metadata", help="folder holding fma_metadata/ (default: --fma)")
    parser.add_argument("--fma-subset", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--groups", help="with --audio-dir: CSV path,artist")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--data-home", default=None, help="mel cache (default: the library's)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny generated collection and models: seconds, for tests")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    out = Path(args.out)

    if args.quick or args.generated:
        work = Path(tempfile.mkdtemp(prefix="sg_collections_"))
        try:
            n_clips, seconds = (12, 2.0) if args.quick else (args.generated, 30.0)
            loading = measure_loading(n_clips, seconds, args.n_jobs, work,
                                      n_classes=2 if args.quick else 10)
            print("| figure | value |\n|---|---|")
            print("\n".join(f"| {k} | {v} |" for k, v in loading.items()))
            results = update_results(out, "loading", f"generated_{n_clips}x{seconds:g}s",
                                     loading)
            if args.quick:
                args.data_home = str(work / "cache")
                rows = evaluate(load_collection(args, quick_root=work / "clips"), quick=True)
                print(table(rows))
                results = update_results(out, "models", "quick", rows)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return results
    if not (args.gtzan or args.fma or args.ballroom or args.audio_dir):
        parser.error("give a collection (--gtzan, --fma, --ballroom, --audio-dir), "
                     "--generated N or --quick")
    collection = load_collection(args)
    rows = evaluate(collection, quick=False)
    print(table(rows))
    return update_results(out, "models", rows[0]["collection"], rows)


if __name__ == "__main__":
    main()
