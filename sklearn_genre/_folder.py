"""Predictions for many files: folders searched for audio and mels, files decoded one by
one (a file that cannot be read is reported, not fatal), model calls in batches.

This is what ``python -m sklearn_genre predict`` runs; it yields one result per file in
order, so the command line can write each row as soon as its batch is scored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._progress import progress
from .audio import FRAME_RATE
from .datasets._audio_folder import AUDIO_EXTENSIONS
from .exceptions import DataFileError, SpectrogramError

__all__ = ["FileResult", "Timings", "find_files", "predict_files", "read_mel"]

#: Suffixes taken from a folder: audio, and mel-spectrograms saved with numpy.
FOLDER_SUFFIXES = AUDIO_EXTENSIONS | {".npy"}


@dataclass
class FileResult:
    """The prediction of one file, or why there is none (``error``)."""

    file: str
    duration_seconds: float | None = None
    top: list | None = None
    segments: list | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"file": self.file, "duration_seconds": self.duration_seconds, "top": self.top}
        if self.segments is not None:
            out["segments"] = self.segments
        return out


@dataclass
class Timings:
    """Seconds spent reading files (decoding, mels) and in the model, and the counts."""

    read_seconds: float = 0.0
    predict_seconds: float = 0.0
    n_files: int = 0
    n_failed: int = 0


def find_files(paths) -> list[str]:
    """Return the files to predict: each file as given, each folder's audio and ``.npy``
    files (recursively, sorted, hidden files and folders skipped).

    A path that does not exist is kept, so that reading it reports it.
    """
    found = []
    for path in map(str, paths):
        folder = Path(path)
        if not folder.is_dir():
            found.append(path)
            continue
        for file in sorted(folder.rglob("*")):
            parts = file.relative_to(folder).parts
            if (file.suffix.lower() in FOLDER_SUFFIXES and file.is_file()
                    and not any(part.startswith(".") for part in parts)):
                found.append(str(file))
    return found


def read_mel(path: str) -> np.ndarray:
    """A mel-spectrogram from an audio file, or from a .npy mel in the dataset's format."""
    from .audio import load_audio_mel
    from .datasets._mtg import load_mel

    if path.lower().endswith(".npy"):
        return np.asarray(load_mel(path, mmap=False, n_mels=None))
    return load_audio_mel(path)


def _read(path: str):
    """``(mel, None)`` or ``(None, message)``: run in worker processes too."""
    try:
        return read_mel(path), None
    except (DataFileError, SpectrogramError, OSError) as exc:
        return None, (str(exc) if path in str(exc) else f"{path}: {exc}")


def _results(model, paths, mels, *, top_k: int, segments: bool):
    from .timeline import genre_timeline

    classes = np.asarray(model.classes_)
    proba = np.asarray(model.predict_proba(mels))
    timelines = genre_timeline(model, mels) if segments else [None] * len(mels)
    for path, mel, row, timeline in zip(paths, mels, proba, timelines):
        order = np.argsort(row)[::-1][:top_k]
        result = FileResult(
            file=path, duration_seconds=round(mel.shape[1] / FRAME_RATE, 2),
            top=[{"label": str(classes[i]), "probability": round(float(row[i]), 4)}
                 for i in order])
        if timeline is not None:
            labels = timeline.columns[2:]
            values = timeline[labels].to_numpy()
            result.segments = [
                {"start": round(float(start), 2), "end": round(float(end), 2),
                 "label": str(labels[int(np.argmax(v))]),
                 "probability": round(float(np.max(v)), 4)}
                for start, end, v in zip(timeline.start, timeline.end, values)]
        yield result


def predict_files(model, paths, *, top_k: int = 3, segments: bool = False,
                  batch_size: int = 32, n_jobs=None, verbose=None, timings=None):
    """Yield a :class:`FileResult` per file of ``paths``, in order.

    Parameters
    ----------
    model : fitted classifier or pipeline with ``classes_`` and ``predict_proba``
    paths : list of str
        Files (see :func:`find_files` for folders).
    top_k : int, default=3
        Labels with the highest probabilities kept per file.
    segments : bool, default=False
        Add the per-window timeline (:func:`~sklearn_genre.genre_timeline`).
    batch_size : int, default=32
        Files scored per model call.
    n_jobs : int or None, default=None
        Files decoded in parallel processes (joblib); None decodes in this process.
    verbose : bool, int or None, default=None
        Progress bar on standard error (see :mod:`sklearn_genre._progress`).
    timings : Timings or None
        Filled with the seconds spent reading and predicting.

    Yields
    ------
    result : FileResult
        With ``error`` set (and no prediction) for a file that cannot be read.
    """
    from joblib import Parallel, delayed

    from ._jobs import own_workers

    timings = timings if timings is not None else Timings()
    top_k = max(1, min(int(top_k), len(np.asarray(model.classes_))))
    pending = []  # (path, error) in order; the mels of those without an error wait too
    mels = []

    def flush():
        started = time.perf_counter()
        ready = [path for path, error in pending if error is None]
        scored = iter(list(_results(model, ready, mels, top_k=top_k, segments=segments))
                      if mels else [])
        timings.predict_seconds += time.perf_counter() - started
        results = [FileResult(file=path, error=error) if error is not None else next(scored)
                   for path, error in pending]
        pending.clear()
        mels.clear()
        return results

    parallel = n_jobs not in (None, 1) and len(paths) > 1
    with own_workers(n_jobs if parallel else None):
        if parallel:
            decoded = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_read)(path) for path in paths)
        else:
            decoded = (_read(path) for path in paths)
        with progress(total=len(paths), desc="predicting", unit="file",
                      verbose=verbose) as bar:
            started = time.perf_counter()
            for path, (mel, error) in zip(paths, decoded):
                timings.read_seconds += time.perf_counter() - started
                timings.n_files += 1
                timings.n_failed += error is not None
                pending.append((path, error))
                if mel is not None:
                    mels.append(mel)
                if len(mels) >= batch_size:
                    yield from flush()
                bar.update()
                started = time.perf_counter()
            if pending:
                yield from flush()
