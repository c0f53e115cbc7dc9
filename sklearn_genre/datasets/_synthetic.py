"""Synthetic mel-spectrograms with a known answer, for tests and quick checks."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_periodic_tracks"]


def make_periodic_tracks(n_tracks: int = 90, *, n_classes: int = 3, n_mels: int = 96,
                         min_frames: int = 300, max_frames: int = 1500, periods=None,
                         bands=(20, 28), pulse_db: float = 12.0, noise_db: float = 4.0,
                         random_state=None) -> Bunch:
    """Return ragged tracks whose class is the period of a pulse in a few mel bands.

    Every track is noise in dB (mean -40, standard deviation ``noise_db``) with a pulse of
    ``pulse_db`` every ``period`` frames in the same bands for all classes, at a random
    phase: only the rhythm tells the classes apart (no timbre). An easy task for a
    network that sees time: pulses 3 standard deviations above the noise by default. The
    pulse density also shows in the pulsing bands' mean, which a per-band statistics
    baseline picks up in part.

    Parameters
    ----------
    n_tracks : int, default=90
    n_classes : int, default=3
    n_mels : int, default=96
    min_frames, max_frames : int, default=300, 1500
        Track lengths are drawn uniformly in this range.
    periods : sequence of int or None
        Pulse period (frames) of each class; default ``6, 9, 13, ...`` (about 7.8, 5.2
        and 3.6 pulses per second at 46.9 frames/s).
    bands : (int, int), default=(20, 28)
        The mel bands that pulse.
    pulse_db, noise_db : float
    random_state : int, RandomState or None

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data``: list of ``np.ndarray [shape=(n_mels, n_frames_i), dtype=float32]``;
        ``target``: ``np.ndarray [shape=(n_tracks,)]`` of ``"period<p>"`` labels;
        ``periods``.

    Examples
    --------
    >>> from sklearn_genre.datasets import make_periodic_tracks
    >>> bunch = make_periodic_tracks(6, random_state=0)
    >>> len(bunch.data), bunch.data[0].shape[0], sorted(set(bunch.target))
    (6, 96, ['period13', 'period6', 'period9'])
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    periods = list(periods) if periods is not None else [6 + 3 * k + (k >= 2) for k in
                                                          range(n_classes)]
    if len(periods) != n_classes or min(periods) < 2:
        raise ValueError(f"periods must give {n_classes} periods of at least 2 frames, "
                         f"got {periods!r}.")
    if not 0 <= bands[0] < bands[1] <= n_mels:
        raise ValueError(f"bands must be a (low, high) range inside {n_mels} bands, got "
                         f"{bands!r}.")
    labels = np.arange(n_tracks) % n_classes
    data = []
    for label in labels:
        n_frames = int(rng.integers(min_frames, max_frames + 1))
        track = rng.normal(-40.0, noise_db, (n_mels, n_frames)).astype(np.float32)
        period = periods[label]
        track[bands[0]:bands[1], int(rng.integers(period))::period] += pulse_db
        data.append(track)
    target = np.array([f"period{periods[k]}" for k in labels], dtype=object)
    return Bunch(data=data, target=target, periods=periods)
