"""Shared helpers of the data sets: where caches live, and atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["get_data_home", "atomic_write", "atomic_save_npy"]

ENV_DATA_HOME = "SKLEARN_GENRE_DATA"


def get_data_home(data_home=None) -> Path:
    """Return the folder of the package's caches, creating it if needed.

    Parameters
    ----------
    data_home : str or path-like or None
        Explicit folder. None uses ``$SKLEARN_GENRE_DATA`` if set, else the user's
        cache directory (``~/.cache/sklearn_genre`` on Linux).

    Returns
    -------
    path : pathlib.Path
    """
    if data_home is None:
        data_home = os.environ.get(ENV_DATA_HOME)
    if data_home is None:
        try:
            from platformdirs import user_cache_dir

            data_home = user_cache_dir("sklearn_genre", appauthor=False)
        except ImportError:  # pragma: no cover
            data_home = Path.home() / ".cache" / "sklearn_genre"
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file next to ``path`` and move it into place on success.

    A crash or exception leaves ``path`` as it was (absent or the old content), never
    half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_save_npy(path, array: np.ndarray) -> None:
    """Save ``array`` to ``path`` (.npy) atomically."""
    with atomic_write(path) as handle:
        np.save(handle, array, allow_pickle=False)
