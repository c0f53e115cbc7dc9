"""Where out-of-core training loses time: inside the training steps or waiting between them.

Trains the network of ``bench_out_of_core.py`` on the first ``--n-tracks`` tracks of its
dump (time-major copy, read once before timing so that it is in the page cache) with the
batches delivered in several ways, and splits every epoch (a skorch callback) into the
time inside the training steps and the time between them (getting the next batch):

- ``memory``: the windows held in one array; batches gathered in the training process;
- ``memory_flushed``: the same, the L3 cache flushed before every step (the flush counts
  between steps, not inside): a batch that comes cold from memory, as one written by a
  worker several batches earlier;
- ``no_workers_copy``: no ``DataLoader`` workers, every batch a fixed time-major batch
  copied into fresh memory by the training process (the time-major layout on its own);
- ``handover``: 2 workers hand over their reused shared buffers without writing them;
- ``copy_band_major`` / ``copy_time_major``: 2 workers copy a fixed batch in that layout;
- ``read``: 2 workers read, check and normalize the windows (the real path).

The fake readers replace ``LazyWindows.read_batch`` before the workers are forked
(Linux). Each variant runs ``--repeat`` times, interleaved; reported: medians over the
epochs after the first, per run. Figures and what they showed: docs/scaling.md.

Usage::

    python benchmarks/profile_out_of_core_steps.py --dump-dir /tmp/oocdump \\
        --time-major-dir /tmp/oocdump_tm --n-tracks 3000 --repeat 2
    python benchmarks/profile_out_of_core_steps.py --quick      # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

from sklearn_genre import MelNormalizer, MelWindower, transformers
from sklearn_genre._arrays import empty_batch
from sklearn_genre.datasets import LazyMelList, to_time_major

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench_out_of_core import EpochTimes, make_dump, pipeline  # noqa: E402 (the sibling script)

VARIANTS = ("memory", "memory_flushed", "no_workers_copy", "handover", "copy_band_major",
            "copy_time_major", "read")


class StepSplit(Callback):
    """Per epoch: seconds in all, inside training steps, and between them."""

    def initialize(self):
        self.epochs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._inside = self._between = 0.0
        self._start = self._last = time.perf_counter()

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self._step = time.perf_counter()
            self._between += self._step - self._last

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self._last = time.perf_counter()
            self._inside += self._last - self._step

    def on_epoch_end(self, net, **kwargs):
        self.epochs.append((time.perf_counter() - self._start, self._inside, self._between))


class FlushL3(Callback):
    """Evicts the CPU caches before every training step (listed before the timer)."""

    def initialize(self):
        self._junk = torch.ones(24 * 2**20)  # 96 MB, 3 x the L3 of the measured machine
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self._junk.add_(1.0)


class FakeReader:
    """``LazyWindows.read_batch`` stand-in: a fixed batch (``layout``), or nothing."""

    def __init__(self, shape, layout):
        self.shape, self.layout, self._seen = shape, layout, set()
        n, n_windows, n_mels, n_frames = shape
        self.band_major = torch.randn(n, n_windows, n_mels, n_frames)
        self.time_major = self.band_major.transpose(2, 3).contiguous().transpose(2, 3)

    def __call__(self, windows, indices=None, *, allocate=None):
        n = len(indices)
        out = empty_batch((n, *self.shape[1:]), self.layout != "band_major", allocate)
        if self.layout == "none":  # write a buffer once (finite values), then hand it over
            if out.data_ptr() in self._seen:
                return out
            self._seen.add(out.data_ptr())
        out.copy_(self.band_major[:n] if self.layout == "band_major" else self.time_major[:n])
        return out


def run_variant(name, lazy, X_memory, y, args):
    split, timer = StepSplit(), EpochTimes()
    shape = (args.batch_size, args.n_windows, 96, args.window_frames)
    real_read = transformers.LazyWindows.read_batch
    fakes = {"no_workers_copy": "time_major", "handover": "none",
             "copy_band_major": "band_major", "copy_time_major": "time_major"}
    try:
        if name.startswith("memory"):
            clf = pipeline(args.epochs, 0, timer, args.n_windows, args.window_frames)[-1]
            flush = [("flush", FlushL3())] if name == "memory_flushed" else []
            clf.set_params(callbacks=[*flush, ("timer", timer), ("split", split)],
                           batch_size=args.batch_size)
            clf.fit(X_memory, y)
        else:
            if name in fakes:  # forked workers inherit the replaced method
                reader = FakeReader(shape, fakes[name])

                def read_batch(self, indices=None, *, allocate=None):
                    return reader(self, indices, allocate=allocate)

                transformers.LazyWindows.read_batch = read_batch
            workers = 0 if name == "no_workers_copy" else args.workers
            pipe = pipeline(args.epochs, workers, timer, args.n_windows, args.window_frames)
            pipe.set_params(clf__callbacks=[("timer", timer), ("split", split)],
                            clf__batch_size=args.batch_size)
            pipe.fit(lazy, y)
    finally:
        transformers.LazyWindows.read_batch = real_read
    later = np.array(split.epochs[1:] or split.epochs)
    return dict(zip(("epoch_s", "inside_steps_s", "between_steps_s"),
                    (round(float(v), 3) for v in np.median(later, axis=0))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tracks", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-windows", type=int, default=4)
    parser.add_argument("--window-frames", type=int, default=352)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--dump-dir", default=None)
    parser.add_argument("--time-major-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--out", default="benchmarks/results/out_of_core_steps.json")
    args = parser.parse_args(argv)
    dump_dir = Path(args.dump_dir or tempfile.mkdtemp(prefix="sgdump-"))
    if args.quick:
        args.n_tracks, args.epochs, args.repeat, args.workers = 16, 2, 1, 1
        args.batch_size, args.window_frames = 4, 64
    paths, y = make_dump(dump_dir, args.n_tracks, None)
    lazy = to_time_major(LazyMelList(paths), args.time_major_dir or dump_dir / "time_major",
                         n_jobs=2)
    for path in lazy.paths:  # into the page cache: the question here is not the disk
        Path(path).read_bytes()
    norm = MelNormalizer(scope="band", max_fit_tracks=200).fit(lazy)
    windows = MelWindower(args.n_windows, args.window_frames).fit(lazy[:1]).transform(
        norm.transform(lazy))
    X_memory = np.stack([windows[i] for i in range(len(y))]) \
        if any(v.startswith("memory") for v in args.variants) else None

    runs = {name: [] for name in args.variants}
    for repeat in range(args.repeat):
        for name in args.variants:
            runs[name].append(run_variant(name, lazy, X_memory, y, args))
            print(f"run {repeat + 1}, {name}: {runs[name][-1]}", flush=True)

    print("| batches reach training | epoch s | inside steps s | between steps s |")
    print("|---|---|---|---|")
    for name, results in runs.items():
        cells = [", ".join(f"{r[key]:.2f}" for r in results)
                 for key in ("epoch_s", "inside_steps_s", "between_steps_s")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    results = {"n_tracks": len(y), "epochs": args.epochs, "batch_size": args.batch_size,
               "workers": args.workers, "n_windows": args.n_windows,
               "window_frames": args.window_frames, "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
