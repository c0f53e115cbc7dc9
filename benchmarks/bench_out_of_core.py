"""Out-of-core training: peak memory and throughput against in-memory training.

Generates (once, cached in ``--dump-dir``) a dump of full-length float32 ``.npy`` mels,
one per track, with durations drawn from the MTG-Jamendo metadata when
``--splits-dir`` is given (else around 4 minutes), then trains the default genre
pipeline's network for ``--epochs`` epochs two ways on the same tracks:

- out of core: ``LazyMelList`` -> ``MelNormalizer(scope="band", max_fit_tracks=200)``
  -> ``MelWindower(train_offsets="random")`` -> ``CRNNClassifier`` reading through a
  ``DataLoader`` with ``--workers`` worker processes; new random windows every epoch,
  only the windows' frames read from disk; from the band-major dump as published, and
  (``--time-major-dir``) from its time-major float16 copy (``to_time_major``, timed);
- in memory: the same windows cut once and held as one array (the windows of
  ``--in-memory-tracks`` tracks, as many as fit in RAM).

Reports throughput (tracks/s, median over epochs after the first) and the peak memory
of the training process plus its workers (sampled every 50 ms): the sum of their RSS
(shared-memory batches counted in each process that maps them) and of their PSS
(counted once; sampled every 0.5 s); on Linux also the disk reads during each
out-of-core run and their mean time (the disk's speed varies on shared machines).
Workers are forked: each one's RSS also counts the training process's pages that it
shares copy-on-write, so summed RSS grows with what the process held when the run
started (``rss_mb_at_start``; larger for later runs in one invocation), PSS does not.
``--repeat`` interleaves several time-major runs in one invocation.

Usage::

    python benchmarks/bench_out_of_core.py --n-tracks 10000 --dump-dir /tmp/oocdump \\
        --splits-dir ../shared/data/mtg-jamendo/data/splits --time-major-dir /tmp/oocdump_tm
    python benchmarks/bench_out_of_core.py --quick     # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from skorch.callbacks import Callback

from sklearn_genre import MelNormalizer, MelWindower, make_genre_pipeline
from sklearn_genre.datasets import LazyMelList, to_time_major
from sklearn_genre.datasets._mtg import read_mtg_tsv

FRAMES_PER_S = 12000 / 256


class PeakRSS:
    """Peak memory of this process and its children, sampled in a thread.

    ``peak``: the sum of their resident sizes (RSS), which counts a shared page (a
    batch in shared memory between a worker and the training process) once per
    process; ``peak_pss``: the sum of proportional set sizes, which counts it once.
    """

    def __init__(self, interval=0.05):
        self.interval, self.peak, self.peak_pss = interval, 0, 0
        self._stop = threading.Event()

    def _sample(self):
        me, tick = psutil.Process(), 0
        while not self._stop.is_set():
            with_pss = tick % 10 == 0  # PSS walks the page tables: 1 ms for 5 GB
            total = total_pss = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info() if with_pss else proc.memory_info()
                    total += info.rss
                    total_pss += getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            if with_pss:
                self.peak_pss = max(self.peak_pss, total_pss)
            tick += 1
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class EpochTimes(Callback):
    def initialize(self):
        self.times = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self.times.append(time.perf_counter() - self._start)


def durations(n_tracks, splits_dir, rng):
    if splits_dir:
        tsvs = sorted(Path(splits_dir).glob("split-0/autotagging_genre-*.tsv"))
        seconds = np.array([row["duration"] for p in tsvs for row in read_mtg_tsv(p)])
        seconds = seconds[(seconds > 10) & (seconds < 1200)]
        return rng.choice(seconds, n_tracks)
    return rng.normal(240, 60, n_tracks).clip(30, 900)


def make_dump(dump_dir: Path, n_tracks: int, splits_dir, n_mels=96):
    """Write (or reuse) ``n_tracks`` random dB mels; return paths and labels."""
    for done in sorted(dump_dir.glob("complete-*.json")):  # reuse a dump at least as big
        meta = json.loads(done.read_text())
        if len(meta["paths"]) >= n_tracks:
            return ([dump_dir / p for p in meta["paths"][:n_tracks]],
                    np.array(meta["labels"][:n_tracks]))
    done = dump_dir / f"complete-{n_tracks}.json"
    dump_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    seconds = durations(n_tracks, splits_dir, rng)
    paths, labels = [], []
    for i, s in enumerate(seconds):
        n_frames = int(s * FRAMES_PER_S)
        mel = rng.standard_normal((n_mels, n_frames), dtype=np.float32)
        mel *= 10.0
        mel -= 40.0
        label = i % 8
        mel[label * 12:(label + 1) * 12] += 6.0 * np.sign(np.sin(np.arange(n_frames) / 5.0))
        path = dump_dir / f"{i:06d}.npy"
        np.save(path, mel)
        paths.append(path.name)
        labels.append(f"genre{label}")
    done.write_text(json.dumps({"paths": paths, "labels": labels,
                                "bytes": int(sum((dump_dir / p).stat().st_size
                                                 for p in paths))}))
    return [dump_dir / p for p in paths], np.array(labels)


def pipeline(epochs, workers, timer, n_windows, window_frames, priority="idle"):
    pipe = make_genre_pipeline(  # the data path's figures were measured with this network
        "rhythm", norm__scope="band", norm__max_fit_tracks=200, window__n_windows=n_windows,
        window__window_frames=window_frames, window__train_offsets="random",
        clf__max_epochs=epochs, clf__train_split=None, clf__batch_size=32,
        clf__train_crop_frames=None, clf__random_state=0, clf__verbose=0,
        clf__callbacks=[("timer", timer)], clf__worker_priority=priority)
    if workers:
        pipe.set_params(clf__iterator_train__num_workers=workers,
                        clf__iterator_train__persistent_workers=True,
                        clf__iterator_train__prefetch_factor=4)
    return pipe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tracks", type=int, default=10000)
    parser.add_argument("--in-memory-tracks", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-windows", type=int, default=4)
    parser.add_argument("--window-frames", type=int, default=352)
    parser.add_argument("--worker-priority", default=["idle"], nargs="+",
                        choices=["idle", "low", "normal"],
                        help="several: one time-major run each (A/B in one run)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the time-major runs this many times, interleaved")
    parser.add_argument("--dump-dir", default=None)
    parser.add_argument("--splits-dir", default=None)
    parser.add_argument("--time-major-dir", default=None,
                        help="also convert the dump there (to_time_major) and train from it")
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the page cache before each out-of-core run (root)")
    parser.add_argument("--skip-band-major", action="store_true",
                        help="train only from the time-major copy (with --time-major-dir)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--out", default="benchmarks/results/out_of_core.json")
    args = parser.parse_args(argv)
    dump_dir = Path(args.dump_dir or tempfile.mkdtemp(prefix="sgdump-"))
    if args.quick:
        args.n_tracks = args.in_memory_tracks = 24
        args.epochs, args.workers, args.window_frames = 2, 1, 64
        args.time_major_dir = args.time_major_dir or str(dump_dir / "time_major")
    start = time.perf_counter()
    paths, y = make_dump(dump_dir, args.n_tracks, args.splits_dir)
    dump_bytes = sum(p.stat().st_size for p in paths)
    print(f"dump: {len(paths)} tracks, {dump_bytes / 1e9:.1f} GB "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    lazy = LazyMelList(paths)
    runs = {}
    if args.time_major_dir:
        if args.drop_caches:
            drop_page_cache()
        start = time.perf_counter()
        lazy_tm = to_time_major(lazy, args.time_major_dir, n_jobs=2)
        convert_s = round(time.perf_counter() - start, 1)
        print(f"time-major float16 copy: {convert_s} s", flush=True)
        for repeat in range(args.repeat):
            for priority in args.worker_priority:
                name = "time_major" if priority == args.worker_priority[0] else \
                    f"time_major_{priority}"
                runs[name + (f"_run{repeat + 1}" if repeat else "")] = (
                    lazy_tm, convert_s, priority)
    if not (args.skip_band_major and runs):
        runs["band_major"] = (lazy, None, args.worker_priority[0])
    ooc = {}
    for name, (data, convert_s, priority) in runs.items():
        if args.drop_caches:
            drop_page_cache()
        timer = EpochTimes()
        rss_before = psutil.Process().memory_info().rss  # forked workers count it again
        with PeakRSS() as rss, DiskReads(data.paths[0]) as disk:
            pipe = pipeline(args.epochs, args.workers, timer, args.n_windows,
                            args.window_frames, priority)
            pipe.fit(data, y)
        ooc[name] = {
            "tracks_per_s": round(len(y) / float(np.median(timer.times[1:] or timer.times)), 1),
            "epoch_seconds": [round(t, 1) for t in timer.times],
            "peak_rss_mb": round(rss.peak / 2**20),
            "peak_pss_mb": round(rss.peak_pss / 2**20),
            "rss_mb_at_start": round(rss_before / 2**20), "workers": args.workers,
            "worker_priority": priority,
            "disk_gb": round(sum(Path(p).stat().st_size for p in data.paths) / 1e9, 1),
            **disk.figures}
        if convert_s is not None:
            ooc[name]["conversion_seconds"] = convert_s
        print(f"out of core, {name}:", ooc[name], flush=True)

    n_mem = min(args.in_memory_tracks, len(y))
    norm = MelNormalizer(scope="band", max_fit_tracks=200).fit(lazy)
    windower = MelWindower(args.n_windows, args.window_frames).fit(lazy[:1])
    windows = windower.transform(norm.transform(lazy[:n_mem]))
    X_mem = np.empty((n_mem, args.n_windows, 96, args.window_frames), np.float32)
    for i in range(n_mem):
        X_mem[i] = windows[i]
    timer = EpochTimes()
    with PeakRSS() as rss:
        clf = pipeline(args.epochs, 0, timer, args.n_windows, args.window_frames)[-1]
        clf.fit(X_mem, y[:n_mem])
    mem_result = {
        "tracks_per_s": round(n_mem / float(np.median(timer.times[1:] or timer.times)), 1),
        "epoch_seconds": [round(t, 1) for t in timer.times],
        "peak_rss_mb": round(rss.peak / 2**20), "peak_pss_mb": round(rss.peak_pss / 2**20),
        "n_tracks": n_mem,
        "array_gb": round(X_mem.nbytes / 1e9, 2)}
    print("in memory:", mem_result, flush=True)

    results = {
        "n_tracks": len(y), "dump_gb": round(dump_bytes / 1e9, 1),
        "mean_track_minutes": round(float(np.mean([np.load(p, mmap_mode="r").shape[1]
                                                   for p in paths[:500]])) / FRAMES_PER_S
                                    / 60, 2),
        "epochs": args.epochs, "n_windows": args.n_windows,
        "window_frames": args.window_frames, "batch_size": 32,
        "in_memory": mem_result,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{psutil.cpu_count()} cores, torch {torch.__version__}",
    }
    if "band_major" in ooc:
        results["out_of_core"] = ooc["band_major"]
        results["throughput_ratio"] = round(
            ooc["band_major"]["tracks_per_s"] / mem_result["tracks_per_s"], 3)
    for name in ooc:
        if name.startswith("time_major"):
            results[f"out_of_core_{name}"] = ooc[name]
            results[f"throughput_ratio_{name}"] = round(
                ooc[name]["tracks_per_s"] / mem_result["tracks_per_s"], 3)
    print("| figure | " + " | ".join(f"out of core, {n}" for n in ooc) + " | in memory |")
    print("|---" * (len(ooc) + 2) + "|")
    for key in ("tracks_per_s", "peak_rss_mb", "peak_pss_mb"):
        print(f"| {key} | " + " | ".join(str(r[key]) for r in ooc.values())
              + f" | {mem_result[key]} |")
    for name, r in ooc.items():
        print(f"throughput ratio, {name}: {r['tracks_per_s'] / mem_result['tracks_per_s']:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


class DiskReads:
    """Reads from the block device holding ``path`` during the block (Linux's
    ``/proc/diskstats``): how many, how many GB, and the mean milliseconds each took
    (queueing included), which shows how fast the disk was during a run."""

    def __init__(self, path):
        dev = os.stat(path).st_dev
        self.device = (os.major(dev), os.minor(dev))
        self.figures = {}

    def _counts(self):
        try:
            for line in Path("/proc/diskstats").read_text().splitlines():
                fields = line.split()
                if (int(fields[0]), int(fields[1])) == self.device:
                    return np.array([int(fields[3]), int(fields[5]), int(fields[6])])
        except OSError:
            pass
        return None

    def __enter__(self):
        self._start = self._counts()
        return self

    def __exit__(self, *exc):
        end = self._counts()
        if self._start is not None and end is not None:
            reads, sectors, ms = (int(n) for n in end - self._start)
            self.figures = {"disk_reads": reads,
                            "disk_read_gb": round(sectors * 512 / 1e9, 2),
                            "disk_ms_per_read": round(ms / max(reads, 1), 2)}


def drop_page_cache():
    """Empty the kernel's page cache (root only), so reads come from disk."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        print(f"could not drop the page cache ({exc}); figures may be cached", flush=True)


if __name__ == "__main__":
    main()
