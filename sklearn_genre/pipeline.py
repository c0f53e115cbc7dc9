"""The documented default pipelines, so users and benchmarks start from the same thing."""

from __future__ import annotations

from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .features import ClassicFeatures, MelStatistics

__all__ = ["make_genre_pipeline", "make_genre_ensemble", "make_tagging_pipeline",
           "make_baseline_pipeline", "DEFAULT_PIPELINE_PARAMS"]

#: Pipeline parameters of :func:`make_genre_pipeline` beyond its steps' own defaults: none.
#: The steps of the ``"default"`` preset (:mod:`sklearn_genre.presets`) are
#: :class:`~sklearn_genre.MelNormalizer` per band (fitted, so spectral shape survives),
#: :class:`~sklearn_genre.MelWindower` with 8 windows of 128 frames for prediction and 4
#: random ones per track and epoch for training, and :class:`~sklearn_genre.CRNNClassifier`
#: with its defaults; docs/benchmarks.md has the measurements behind each choice.
DEFAULT_PIPELINE_PARAMS: dict = {}


def _seed_steps(pipeline: Pipeline, random_state) -> Pipeline:
    """Set ``random_state`` of every step that has one (None leaves them as they are)."""
    if random_state is None:
        return pipeline
    for name, step in pipeline.steps:
        if hasattr(step, "get_params") and "random_state" in step.get_params(deep=False):
            pipeline.set_params(**{f"{name}__random_state": random_state})
    return pipeline


def make_genre_pipeline(preset: str = "default", *, random_state=None, **params) -> Pipeline:
    """Return a genre pipeline: normalize, window, CRNN.

    Steps: ``trim`` (``"passthrough"``: every window of the whole track is kept; set it
    to a :class:`~sklearn_genre.MelTrimmer` to reproduce a fixed crop), ``norm``
    (:class:`~sklearn_genre.MelNormalizer`, fitted per mel band), ``window``
    (:class:`~sklearn_genre.MelWindower`: 8 windows of 128 frames, about 2.7 s each,
    spread over the track for prediction; 4 at random offsets per track and epoch in
    training) and ``clf`` (:class:`~sklearn_genre.CRNNClassifier` with its defaults).

    Parameters
    ----------
    preset : {"default", "seed", "rhythm"}, default="default"
        ``"seed"``: the original project's model and hyper-parameters (first 1400 frames,
        one window); ``"rhythm"``: the 1-D CNN-LSTM tuned on rhythm only
        (:mod:`sklearn_genre.presets`).
    random_state : int, RandomState or None, default=None
        Seeds every random step (the classifier's weights, dropout, batch order, random
        windows and crops); the same seed and data give the same model.
    **params
        Pipeline parameters in ``step__param`` form, for example
        ``clf__max_epochs=20`` or ``window__n_windows=8``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Takes ``X`` as a 3-D array or a list of ``(n_mels, n_frames_i)`` arrays, one per
        track, and predicts one label per track.

    Examples
    --------
    >>> from sklearn_genre import make_genre_pipeline
    >>> pipe = make_genre_pipeline(random_state=0, clf__verbose=0)
    >>> [name for name, _ in pipe.steps]
    ['trim', 'norm', 'window', 'clf']
    >>> make_genre_pipeline("seed")[-1].module.__name__
    'CRNN'
    """
    from .presets import pipeline_steps

    pipeline = Pipeline(pipeline_steps(preset))
    pipeline.set_params(**{**DEFAULT_PIPELINE_PARAMS, **params})
    return _seed_steps(pipeline, random_state)


def make_genre_ensemble(n_members: int = 7, *, random_state: int = 0, n_jobs=None,
                        **params) -> VotingClassifier:
    """Return a soft-voting ensemble of default genre pipelines that differ in their seed.

    What made the one-vs-rest ensemble of binary CRNNs beat the single multi-class CRNN
    was averaging, not the binary decomposition: on the score corpus, 7 multi-class
    pipelines averaged reached 0.75 macro-F1 against 0.72 for one-vs-rest and 0.63-0.66
    for one pipeline, at the one-vs-rest ensemble's cost (docs/benchmarks.md).

    Parameters
    ----------
    n_members : int, default=7
    random_state : int, default=0
        Member ``k`` gets ``clf__random_state = 100 * random_state + k``.
    n_jobs : int or None, default=None
        Members fitted in parallel by joblib (``VotingClassifier``'s ``n_jobs``).
    **params
        Parameters of every member pipeline, in ``step__param`` form.

    Returns
    -------
    ensemble : sklearn.ensemble.VotingClassifier
        ``voting="soft"``: ``predict_proba`` is the mean of the members'. Tune a member
        setting for all of them with ``GridSearchCV`` on a single pipeline first, or
        address members as ``member0__clf__lr``.

    Examples
    --------
    >>> from sklearn_genre import make_genre_ensemble
    >>> ensemble = make_genre_ensemble(3, clf__verbose=0)
    >>> [name for name, _ in ensemble.estimators]
    ['member0', 'member1', 'member2']
    """
    if int(n_members) < 1:
        raise ValueError(f"n_members must be at least 1, got {n_members}.")
    members = [(f"member{k}", make_genre_pipeline(
        **params, random_state=100 * int(random_state) + k))
        for k in range(int(n_members))]
    return VotingClassifier(members, voting="soft", n_jobs=n_jobs)


def make_tagging_pipeline(preset: str = "default", *, random_state=None,
                          **params) -> Pipeline:
    """Return the default multi-label pipeline: as :func:`make_genre_pipeline`, ending in
    :class:`~sklearn_genre.CRNNTagger`.

    Parameters
    ----------
    preset : {"default", "seed", "rhythm"}, default="default"
        As in :func:`make_genre_pipeline`; the tagger gets the preset's classifier
        settings.
    random_state : int, RandomState or None, default=None
        Seeds every random step.
    **params
        Pipeline parameters in ``step__param`` form, e.g. ``clf__pos_weight="balanced"``,
        ``clf__threshold="tune"``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``fit(X, y)`` with ``y`` a list of tag lists or an indicator matrix.

    Examples
    --------
    >>> from sklearn_genre import make_tagging_pipeline
    >>> type(make_tagging_pipeline()[-1]).__name__
    'CRNNTagger'
    """
    from .presets import CLASSIFIER_PRESETS, pipeline_steps
    from .tagger import CRNNTagger

    steps = pipeline_steps(preset)
    steps[-1] = ("clf", CRNNTagger(**CLASSIFIER_PRESETS[preset]))
    pipeline = Pipeline(steps)
    pipeline.set_params(**{**DEFAULT_PIPELINE_PARAMS, **params})
    return _seed_steps(pipeline, random_state)


def make_baseline_pipeline(features: str = "band_stats", **params) -> Pipeline:
    """Return a scikit-learn-only baseline: summary features, scaling, logistic regression.

    Parameters
    ----------
    features : {"band_stats", "classic"}, default="band_stats"
        ``"band_stats"``: the mean and standard deviation of every mel band
        (:class:`~sklearn_genre.MelStatistics`); ``"classic"``: MFCCs, spectral shape,
        contrast, energy, onsets and tempo (:class:`~sklearn_genre.ClassicFeatures`),
        what music-information-retrieval practitioners compare against.
    **params
        Pipeline parameters in ``step__param`` form (steps ``stats``, ``scale``, ``clf``).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Takes the same mel input as :func:`make_genre_pipeline`.

    Examples
    --------
    >>> from sklearn_genre import make_baseline_pipeline
    >>> [name for name, _ in make_baseline_pipeline().steps]
    ['stats', 'scale', 'clf']
    >>> type(make_baseline_pipeline("classic")[0]).__name__
    'ClassicFeatures'
    """
    if features not in ("band_stats", "classic"):
        raise ValueError(f"features must be 'band_stats' or 'classic', got {features!r}.")
    pipeline = Pipeline([
        ("stats", MelStatistics() if features == "band_stats" else ClassicFeatures()),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(max_iter=2000, C=1.0)),
    ])
    return pipeline.set_params(**params)
