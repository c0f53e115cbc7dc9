"""Training and inference throughput of the default CRNN, and skorch's overhead.

Measures, on random 1400-frame inputs (the original project's clip length):
- training throughput (clips/s) of ``CRNNClassifier`` with its defaults;
- inference throughput (clips/s);
- the wall-time ratio of a skorch-wrapped fit (``n_jobs=1``, one thread pool as in the
  plain loop) to a plain PyTorch loop doing the same epochs with the same network,
  batch size, optimizer and data;
- variants: batch size, threads per batch (``n_jobs``), bfloat16, float16 storage;
- float16 storage: its rounding error on dB mels and on predicted probabilities;
- ``--seed-experiment``: the wall time of a seed-sized run, 3,600 clips x 100 epochs;
- the machine: its CPU and the float32 / bfloat16 throughput of a large matrix product
  (the goals were set on a machine with about 400 / 2,300 GFLOP/s).

Each figure is the median of ``--repeats`` runs measured in one process.

Usage::

    python benchmarks/bench_speed.py                 # published figures
    python benchmarks/bench_speed.py --quick         # seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_genre import CRNNClassifier
from sklearn_genre.engine import cpu_runtime
from sklearn_genre.nn import CRNN

#: Settings compared at the same input size (batch = training batch size).
VARIANTS = {
    "batch 32 (defaults)": {},
    "batch 32, n_jobs=1 (one thread pool)": {"n_jobs": 1},
    "batch 64": {"batch_size": 64},
    "batch 64, n_jobs=1": {"batch_size": 64, "n_jobs": 1},
    "batch 128": {"batch_size": 128},
    "batch 256 (the original's)": {"batch_size": 256},
    "batch 64, float16 storage": {"batch_size": 64, "float16": True},
    "batch 64, bfloat16": {"batch_size": 64, "precision": "bfloat16"},
    "batch 256, bfloat16": {"batch_size": 256, "precision": "bfloat16"},
}


def machine_peak(size=2048, repeats=10):
    """GEMM throughput (GFLOP/s) at torch's thread count, float32 and bfloat16, and the CPU."""
    peaks = {}
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        for _ in range(3):
            a @ b
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        peaks[f"{str(dtype).split('.')[-1]}_gemm_gflops"] = round(
            2 * size**3 / float(np.median(times)) / 1e9)
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, **peaks}


def plain_loop(X, y, *, epochs, batch_size, lr, weight_decay, seed):
    """Train the same network with a hand-written PyTorch loop; return seconds."""
    torch.manual_seed(seed)
    net = CRNN(n_mels=X.shape[1], n_classes=int(y.max()) + 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xt, yt),
                                         batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    with cpu_runtime(n_jobs=1):
        for _ in range(epochs):
            net.train()
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = loss_fn(net(xb), yb)
                loss.backward()
                optimizer.step()
    return time.perf_counter() - start


def float16_storage(clf, X):
    """Rounding error of float16 storage on dB mels, and on a trained model's output."""
    # dB mels span about -100..+40 dB: scale the random inputs to that range
    mels = (X[:64] * 25.0 - 30.0).clip(-100, 40)
    error = np.abs(mels.astype(np.float16).astype(np.float32) - mels)
    proba32 = clf.predict_proba(X[:256])
    proba16 = clf.predict_proba(X[:256].astype(np.float16))
    return {"max_abs_error_db": round(float(error.max()), 4),
            "median_abs_error_db": round(float(np.median(error)), 5),
            "max_abs_proba_difference": float(np.abs(proba32 - proba16).max()),
            "bytes_per_30s_clip": {"float32": 96 * 1406 * 4, "float16": 96 * 1406 * 2}}


def seed_network(**params):
    """The network these figures measure: the seed preset's (the original project's layer
    sizes, which the plain-torch loop reproduces), trained without a validation split."""
    return CRNNClassifier.from_preset("seed", **{"train_split": None, "patience": None,
                                                 **params})


def seed_experiment(n_clips=3600, epochs=100, n_frames=1400, batch_size=64):
    """Wall time of the original project's experiment size with the default network."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n_clips, 96, n_frames)).astype(np.float16)  # 0.97 GB
    y = np.array([f"genre{k}" for k in np.arange(n_clips) % 11])
    clf = seed_network(max_epochs=epochs, batch_size=batch_size, train_split=None,
                         verbose=0, random_state=0)
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    return {"n_clips": n_clips, "epochs": epochs, "batch_size": batch_size,
            "storage": "float16", "seconds": round(seconds, 1),
            "clips_per_s": round(n_clips * epochs / seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=512)
    parser.add_argument("--n-frames", type=int, default=1400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--seed-experiment", action="store_true",
                        help="also time 3,600 clips x 100 epochs (about 5 minutes)")
    parser.add_argument("--out", default="benchmarks/results/speed.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_clips, args.n_frames, args.epochs, args.repeats = 64, 200, 1, 1

    peak = machine_peak(512 if args.quick else 2048)
    print("machine:", peak, flush=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_clips, 96, args.n_frames)).astype(np.float32)
    y = np.arange(args.n_clips) % 8
    labels = np.array([f"genre{k}" for k in y])
    skorch_times, plain_times, infer_times = [], [], []
    for repeat in range(args.repeats):
        clf = seed_network(max_epochs=args.epochs, batch_size=args.batch_size,
                             train_split=None, verbose=0, random_state=repeat, n_jobs=1)
        start = time.perf_counter()
        clf.fit(X, labels)
        skorch_times.append(time.perf_counter() - start)
        plain_times.append(plain_loop(X, y, epochs=args.epochs, batch_size=args.batch_size,
                                      lr=0.01, weight_decay=0.001, seed=repeat))
        start = time.perf_counter()
        clf.predict_proba(X)
        infer_times.append(time.perf_counter() - start)

    float32_model = clf  # float32 precision: the float16 storage check below needs it
    X16 = X.astype(np.float16)
    variants = {}
    for name, params in VARIANTS.items():
        params = dict(params)
        data = X16 if params.pop("float16", False) else X
        train_t, infer_t = [], []
        for repeat in range(args.repeats):
            clf = seed_network(max_epochs=args.epochs, train_split=None, verbose=0,
                                 random_state=repeat, **params)
            start = time.perf_counter()
            clf.fit(data, labels)
            train_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            clf.predict_proba(data)
            infer_t.append(time.perf_counter() - start)
        variants[name] = {
            "train_clips_per_s": round(args.n_clips * args.epochs / float(np.median(train_t)), 1),
            "inference_clips_per_s": round(args.n_clips / float(np.median(infer_t)), 1)}

    float16 = float16_storage(float32_model, X)
    seed_run = seed_experiment() if args.seed_experiment else None
    n_seen = args.n_clips * args.epochs
    results = {
        "n_clips": args.n_clips, "n_frames": args.n_frames, "epochs": args.epochs,
        "batch_size": args.batch_size, "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "train_clips_per_s": round(n_seen / float(np.median(skorch_times)), 1),
        "plain_loop_train_clips_per_s": round(n_seen / float(np.median(plain_times)), 1),
        "skorch_over_plain_ratio": round(float(np.median(skorch_times) / np.median(plain_times)),
                                         3),
        "inference_clips_per_s": round(args.n_clips / float(np.median(infer_times)), 1),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "machine_peak": peak,
        "variants": variants,
        "float16_storage": float16,
        "seed_experiment": seed_run,
    }
    print("| figure | value |\n|---|---|")
    for key, value in results.items():
        if key != "variants":
            print(f"| {key} | {value} |")
    print("\n| variant | train clips/s | inference clips/s |\n|---|---|---|")
    for name, figures in variants.items():
        print(f"| {name} | {figures['train_clips_per_s']} | {figures['inference_clips_per_s']} |")
    print("\nfloat16 storage:", float16)
    if seed_run:
        print("seed-sized experiment:", seed_run)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
