"""The on-disk cache of audio mels, and the parallel extraction every audio loader uses.

Mels are computed with the library's recipe (:mod:`sklearn_genre.audio`) and cached one
``.npy`` per file under ``get_data_home(data_home) / "audio_mels" / <recipe key>``. An
entry is named by the SHA-256 of the file's bytes, so renaming or touching a file keeps its
entry and editing it makes a new one; the recipe key covers the recipe's constants and the
versions of the decoding and resampling libraries (``recipe.json`` in the folder lists
them). Entries are written atomically (an interrupted run leaves no half-written entry),
and an entry that is truncated, of the wrong shape or not finite is re-computed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from .._jobs import own_workers
from .._progress import progress
from ..audio import (
    F_MAX,
    FRAME_RATE,
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    MelSpectrogram,
    load_audio_mel,
)
from ..exceptions import DataFileError
from ._base import atomic_save_npy, atomic_write, get_data_home

__all__ = ["extract_mels", "recipe_key", "CACHE_VERSION"]

#: Bumped whenever the recipe in :mod:`sklearn_genre.audio` changes its output.
CACHE_VERSION = 1
_PROGRESS_MIN_FILES = 20
_PARALLEL_MIN_FILES = 64


def _version(distribution: str):
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


@functools.cache
def _recipe(extractor: str) -> dict:
    import soundfile

    return {"cache_version": CACHE_VERSION, "sample_rate": SAMPLE_RATE, "n_fft": N_FFT,
            "hop_length": HOP_LENGTH, "n_mels": N_MELS, "f_max": F_MAX, "extractor": extractor,
            "libsndfile": soundfile.__libsndfile_version__,
            **{name: _version(name) for name in ("librosa", "soundfile", "soxr", "audioread")}}


def recipe_key(mel=None) -> str:
    """Return the name of the cache folder of the recipe (and libraries) in use.

    A ``MelSpectrogram`` has no recipe parameters, so it shares the library's key; a
    subclass gets a key of its own, since it may compute something else.
    """
    text = json.dumps(_recipe(_extractor_name(mel)), sort_keys=True)
    return f"v{CACHE_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _extractor_name(mel) -> str:
    kind = type(mel) if mel is not None else MelSpectrogram
    return "" if kind is MelSpectrogram else f"{kind.__module__}.{kind.__qualname__}"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_cached(path: Path, mmap: bool):
    """The cached mel at ``path``; None when there is no entry, False when it is corrupt."""
    try:
        mel = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (ValueError, OSError, EOFError):
        return False
    if (mel.ndim != 2 or mel.shape[0] != N_MELS or mel.shape[1] < 1
            or mel.dtype != np.float32 or not np.isfinite(mel).all()):
        return False
    return mel


def _compute(path: str, entry_path: str | None, mel, lazy: bool):
    """Mel of one file, stored in the cache: ``(mel or its shape, error, write_error)``.

    Runs in the worker processes; a file that cannot be read is returned as an error.
    """
    try:
        out = mel.transform([path])[0] if mel is not None else load_audio_mel(path)
    except DataFileError as exc:
        message = str(exc)
        return None, message[len(path) + 2:] if message.startswith(f"{path}: ") else message, None
    write_error = None
    if entry_path is not None:
        try:
            atomic_save_npy(entry_path, out)
        except OSError as exc:
            write_error = f"{type(exc).__name__}: {exc}"
    return (out.shape if lazy else out), None, write_error


def _progress(total: int, verbose, desc: str):
    return progress(total=total, desc=desc, unit="file", verbose=verbose,
                    min_total=_PROGRESS_MIN_FILES)


def extract_mels(paths, *, mel=None, on_error="raise", min_seconds=None, n_jobs=None,
                 data_home=None, cache=True, lazy=False, verbose=None, desc="mels"):
    """Return ``(mels, failures, n_rebuilt, cache_dir)`` for a list of audio files.

    ``mels[i]`` is the mel of ``paths[i]`` (a cache path when ``lazy``), or None when the
    file failed; ``failures`` lists ``(path, reason)``; ``on_error="raise"`` raises a
    :class:`DataFileError` naming the first file that fails instead.
    """
    from joblib import Parallel, delayed

    cache_dir = None
    if cache:
        cache_dir = get_data_home(data_home) / "audio_mels" / recipe_key(mel)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            if not (cache_dir / "recipe.json").exists():  # what the folder's name stands for
                with atomic_write(cache_dir / "recipe.json", "w") as handle:
                    json.dump(_recipe(_extractor_name(mel)), handle, indent=2)
        except OSError as exc:
            raise DataFileError(f"cannot write the mel cache {cache_dir} ({exc}); pass "
                                "data_home= a writable folder, or cache=False.") from exc
    mels: list = [None] * len(paths)
    failures: list[tuple[str, str]] = []

    def accept(i, result, n_frames):
        seconds = (n_frames - 1) / FRAME_RATE  # the audio ends in the last frame's hop
        if min_seconds is not None and seconds < min_seconds:
            fail(i, f"too short: {seconds:.2f} s of audio, min_seconds={min_seconds}")
        else:
            mels[i] = result

    def fail(i, reason):
        if on_error == "raise":
            raise DataFileError(f"{paths[i]}: {reason}. Pass on_error='skip' to leave the "
                                "files that cannot be read out (they are then listed in the "
                                "Bunch's `failures`).")
        failures.append((str(paths[i]), reason))

    todo, n_rebuilt, write_errors = [], 0, []
    with _progress(len(paths), verbose, desc) as bar:
        for i, path in enumerate(paths):
            if cache_dir is None:
                todo.append((i, None))
                continue
            try:
                entry = cache_dir / f"{_file_digest(path)}.npy"
            except OSError as exc:
                fail(i, f"cannot read file ({type(exc).__name__}: {exc})")
                bar.update()
                continue
            cached = _read_cached(entry, mmap=lazy)
            if cached is None or cached is False:
                n_rebuilt += cached is False
                todo.append((i, str(entry)))
                continue
            accept(i, str(entry) if lazy else cached, cached.shape[1])
            bar.update()
        if todo:
            # starting worker processes costs seconds (each imports the library and torch:
            # 4-9 s on 2 busy cores), more than a few dozen files take (56 FMA mp3 clips:
            # 5 s here, 14 s with 2 workers): those, and the unreadable files of a cached
            # collection, are done in this process
            n_jobs = n_jobs if len(todo) >= _PARALLEL_MIN_FILES else None
            with own_workers(n_jobs):  # the next parallel fits get fresh workers
                parallel = Parallel(n_jobs=n_jobs, return_as="generator")
                outputs = parallel(delayed(_compute)(str(paths[i]), entry, mel, lazy)
                                   for i, entry in todo)
                for (i, entry), (result, error, write_error) in zip(todo, outputs):
                    bar.update()
                    if error is not None:
                        fail(i, error)
                        continue
                    if write_error is not None:
                        if lazy:
                            raise DataFileError(f"cannot write the cache entry of {paths[i]} "
                                                f"({write_error}); lazy=True needs a "
                                                "writable data_home.")
                        write_errors.append(write_error)
                    shape = result if lazy else result.shape
                    accept(i, entry if lazy else result, shape[1])
    if write_errors:
        warnings.warn(f"{len(write_errors)} mels could not be written to the cache {cache_dir} "
                      f"and will be computed again next time: {write_errors[0]}",
                      UserWarning, stacklevel=4)
    return mels, failures, n_rebuilt, cache_dir


