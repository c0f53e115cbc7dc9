"""Progress bars on standard error for long work, and silence where they would be noise.

One rule for every long step (audio extraction, corpus rendering, predictions over many
tracks, the command line): ``verbose=0`` (or False) never shows a bar; a truthy ``verbose``
shows one; ``verbose=None`` shows one when standard error is a terminal and the work is
long (more than ``min_total`` items). Bars are :mod:`tqdm` bars written to standard error,
built for the duration of the work only: nothing of them is kept on an estimator, so they
never end up in pickles or model files.
"""

from __future__ import annotations

import sys

__all__ = ["progress", "shows_progress"]

#: Fewest items for which ``verbose=None`` shows a bar on a terminal.
MIN_TOTAL = 20


def shows_progress(verbose, total=None, *, min_total: int = MIN_TOTAL) -> bool:
    """Return whether :func:`progress` would show a bar for ``verbose`` and ``total``.

    Parameters
    ----------
    verbose : bool, int or None
        0 or False: never; truthy: always; None: when standard error is a terminal and
        ``total`` is more than ``min_total`` (or unknown).
    total : int or None
        Number of items of the work.
    min_total : int, default=20

    Returns
    -------
    show : bool
    """
    if verbose is None:
        long = total is None or total > min_total
        return long and _stderr_is_terminal()
    return bool(verbose)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def progress(iterable=None, *, total=None, desc=None, unit="it", verbose=None,
             min_total: int = MIN_TOTAL, leave: bool = True):
    """Return ``iterable`` wrapped in a progress bar on standard error, when one is wanted.

    Parameters
    ----------
    iterable : iterable or None
        What to iterate over. None returns a bar to advance by hand with ``update(n)``
        (use it as a context manager), disabled (a no-op) when no bar is wanted.
    total : int or None
        Number of items (``len(iterable)`` when it has one).
    desc : str or None
        Label in front of the bar.
    unit : str, default="it"
        What an item is (``"file"``, ``"track"``, ``"clip"``).
    verbose : bool, int or None, default=None
        See :func:`shows_progress`.
    min_total : int, default=20
    leave : bool, default=True
        Keep the finished bar on screen (False: erase it).

    Returns
    -------
    wrapped : iterable or tqdm.tqdm
        ``iterable`` itself when no bar is shown, else a ``tqdm`` bar over it.

    Examples
    --------
    >>> from sklearn_genre._progress import progress
    >>> list(progress(range(3), verbose=0))          # silent: the iterable itself
    [0, 1, 2]
    >>> with progress(total=10, verbose=0) as bar:   # advanced by hand
    ...     bar.update(10)
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    show = shows_progress(verbose, total, min_total=min_total)
    if not show and iterable is not None:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not show, leave=leave, dynamic_ncols=True)
