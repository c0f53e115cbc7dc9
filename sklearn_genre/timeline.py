"""How the genre moves through a track: per-window predictions with their times."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ._base import CRNNBase
from ._validation import check_spectrograms
from .audio import FRAME_RATE
from .transformers import MelWindower

__all__ = ["genre_timeline"]


def genre_timeline(pipeline: Pipeline, X, *, hop_frames: int | None = None):
    """Return per-window class (or tag) probabilities of every track, with their times.

    The pipeline's :class:`~sklearn_genre.MelWindower` is re-used with as many windows as
    it takes to cover each track every ``hop_frames`` frames, so a long track gets a
    timeline and a clip shorter than one window is padded and still gets one row.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a ``MelWindower`` step followed by a ``CRNNClassifier``
        (class probabilities: each row sums to 1) or a ``CRNNTagger`` (independent tag
        probabilities).
    X : np.ndarray [shape=(n_tracks, n_mels, n_frames)] or list of \
np.ndarray [shape=(n_mels, n_frames_i)]
    hop_frames : int or None
        Distance between window starts; None is half a window.

    Returns
    -------
    timelines : list of pandas.DataFrame
        One per track: columns ``start`` and ``end`` (seconds), then one probability
        column per class (``classes_`` order); one row per window.

    Examples
    --------
    >>> from sklearn_genre import genre_timeline
    >>> timeline = genre_timeline(fitted_pipeline, [long_track])[0]  # doctest: +SKIP
    >>> timeline.round(2).head(2)  # doctest: +SKIP
       start   end  chorale   jig  reel
    0   0.00  7.51     0.02  0.91  0.07
    1   3.75  11.26    0.03  0.88  0.09
    """
    steps = [step for _, step in pipeline.steps]
    positions = [i for i, step in enumerate(steps) if isinstance(step, MelWindower)]
    if not positions or not isinstance(steps[-1], CRNNBase):
        raise ValueError("genre_timeline needs a pipeline with a MelWindower step and a "
                         "CRNNClassifier or CRNNTagger as its last step.")
    position = positions[0]
    windower = steps[position]
    hop = hop_frames if hop_frames is not None else max(windower.window_frames // 2, 1)
    if hop < 1:
        raise ValueError(f"hop_frames must be >= 1, got {hop_frames}.")
    tracks = check_spectrograms(X, estimator_name="genre_timeline")
    classifier = steps[-1]
    timelines = []
    for track in tracks:
        before = pipeline[:position].transform([track]) if position else [track]
        n_frames = before[0].shape[-1]
        n_windows = max(1, int(np.ceil(max(n_frames - windower.window_frames, 0) / hop)) + 1)
        covering = clone(windower).set_params(n_windows=n_windows).fit(before)
        windows = covering.transform(before)
        for step in steps[position + 1:-1]:
            windows = step.transform(windows)
        proba = classifier.predict_proba_windows(windows)[0]
        starts = covering.window_starts(n_frames) / FRAME_RATE
        ends = np.minimum(starts + windower.window_frames / FRAME_RATE, n_frames / FRAME_RATE)
        frame = pd.DataFrame(proba, columns=[str(c) for c in classifier.classes_])
        frame.insert(0, "end", ends)
        frame.insert(0, "start", starts)
        timelines.append(frame)
    return timelines
