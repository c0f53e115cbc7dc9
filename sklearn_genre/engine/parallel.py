"""Split a batch across CPU threads: data parallelism inside one process.

The CRNN's LSTM runs hundreds of small sequential steps; torch spreads each step's
tiny matrix products over its intra-op threads and gains little from a second core
(1.2x measured on 2 cores). Running halves of the batch in two threads, each with
one intra-op thread, uses both cores fully (1.8x). Gradients are exact: each chunk's
gradient is computed separately and the chunks are summed in a fixed order, so the
result does not depend on which thread finishes first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from .layers import dropout_generator

__all__ = ["batch_splittable", "chunked_backward", "chunked_forward", "resolve_n_jobs",
           "whole_batch_threads", "workers_only"]

_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()
_state = threading.local()


def _init_worker():
    # per-thread settings: one intra-op thread, denormals flushed (2x LSTM backward)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)


def _pool(n_workers: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(n_workers)
        if pool is None:
            pool = _pools[n_workers] = ThreadPoolExecutor(
                n_workers, thread_name_prefix="sklearn_genre", initializer=_init_worker)
        return pool


def _forget_pools():  # a forked child has the executors but not their threads
    _pools.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def resolve_n_jobs(n_jobs) -> int:
    """Number of chunks a batch is split into: ``None`` means torch's thread count.

    Inside :func:`workers_only`, ``None`` keeps meaning the count from before it.
    """
    if n_jobs is None:
        return getattr(_state, "threads", None) or max(torch.get_num_threads(), 1)
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive integer, -1 or None, got 0.")
    if n_jobs < 0:
        return max((os.cpu_count() or 1) + 1 + n_jobs, 1)
    return n_jobs


_BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d,
                torch.nn.SyncBatchNorm)


def batch_splittable(module: torch.nn.Module) -> bool:
    """Whether a training batch may be split across threads without changing the result.

    Batch normalization computes its statistics over the whole batch and updates its
    running statistics in place: chunks would normalize differently and race on those
    buffers, so networks with it train on whole batches (torch's own threads).
    """
    return not any(isinstance(m, _BATCH_NORMS) for m in module.modules())


def chunked_forward(forward, x: torch.Tensor, n_chunks: int, *, grad: bool, seeds=None,
                    n_workers=None):
    """Run ``forward`` on ``n_chunks`` slices of ``x`` (axis 0) in worker threads.

    Parameters
    ----------
    forward : callable
        ``forward(chunk) -> torch.Tensor`` (the caller's precision context included).
    x : torch.Tensor [shape=(batch, ...)]
    n_chunks : int
    grad : bool
        Record the autograd graph (training) or not (inference).
    seeds : list of int or None
        One dropout seed per chunk (see :func:`sklearn_genre.nn.dropout_generator`).
    n_workers : int or None
        Threads sharing the chunks (default: one per chunk).

    Returns
    -------
    outputs : list of torch.Tensor
        One output per chunk, in order.
    """
    chunks = torch.tensor_split(x, n_chunks)
    seeds = seeds if seeds is not None else [None] * len(chunks)

    def run(chunk, seed):
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        with torch.set_grad_enabled(grad), dropout_generator(generator):
            return forward(chunk)

    return list(_pool(min(n_workers or len(chunks), len(chunks))).map(run, chunks, seeds))


def chunked_backward(outputs, grad_outputs, params):
    """Gradients of ``params`` from each chunk's graph, computed in worker threads.

    Parameters
    ----------
    outputs, grad_outputs : list of torch.Tensor
        Each chunk's output and the loss gradient with respect to it.
    params : list of torch.nn.Parameter

    Returns
    -------
    grads : list of torch.Tensor or None
        Per parameter, the sum over chunks in chunk order (None if unused).
    """
    def run(output, grad_output):
        return torch.autograd.grad(output, params, grad_outputs=grad_output,
                                   allow_unused=True)

    per_chunk = list(_pool(len(outputs)).map(run, outputs, grad_outputs))
    grads = []
    for i in range(len(params)):
        total = None
        for chunk_grads in per_chunk:
            g = chunk_grads[i]
            if g is not None:
                total = g if total is None else total + g
        grads.append(total)
    return grads


@contextlib.contextmanager
def workers_only(n_jobs):
    """Give the calling thread one intra-op thread while batches go to worker threads.

    The calling thread only gathers batches, sums gradients and steps the optimizer
    between the workers' passes. With torch's default thread count its OpenMP team
    keeps spinning after each of those small parallel regions and takes a core from
    the workers: measured 1.2x slower training on 2 cores. The previous count is
    restored on exit; nothing changes when batches are not split (``n_jobs=1``).
    """
    previous = torch.get_num_threads()
    outer = getattr(_state, "threads", None)
    _state.threads = outer or previous
    switch = resolve_n_jobs(n_jobs) > 1 and previous > 1
    if switch:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if switch:
            torch.set_num_threads(previous)
        _state.threads = outer


@contextlib.contextmanager
def whole_batch_threads():
    """Inside :func:`workers_only`: give torch back its own thread count for a step that
    runs whole (a training batch through batch normalization cannot be split).

    Without it such a step would run on the one thread ``workers_only`` left to the
    calling thread: measured 88-92 training windows/s for the default network on 2 cores
    with 1 or 2 threads asked for. Nothing changes outside ``workers_only``.
    """
    threads = getattr(_state, "threads", None)
    current = torch.get_num_threads()
    if not threads or threads == current:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(current)
