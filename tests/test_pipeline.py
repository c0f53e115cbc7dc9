import numpy as np

from sklearn_genre import (
    CRNNClassifier,
    MelNormalizer,
    MelWindower,
    make_baseline_pipeline,
    make_genre_pipeline,
)
from sklearn_genre.pipeline import DEFAULT_PIPELINE_PARAMS


def test_default_pipeline_structure_and_overrides():
    pipe = make_genre_pipeline(clf__random_state=3, window__n_windows=2)
    assert [name for name, _ in pipe.steps] == ["trim", "norm", "window", "clf"]
    assert isinstance(pipe["norm"], MelNormalizer) and isinstance(pipe["window"], MelWindower)
    assert isinstance(pipe["clf"], CRNNClassifier)
    params = pipe.get_params()
    assert params["clf__random_state"] == 3 and params["window__n_windows"] == 2
    for key, value in DEFAULT_PIPELINE_PARAMS.items():
        if key != "window__n_windows":
            assert params[key] == value
    # the classifier's own defaults stay the original project's documented values
    clf = CRNNClassifier()
    assert clf.lr == 0.01 and clf.optimizer__weight_decay == 0.001


def test_baseline_pipeline_learns_band_statistics(rng):
    X = [rng.normal(-40, 5, (96, int(n))) for n in rng.integers(100, 400, 40)]
    y = np.array(["quiet", "loud"] * 20)
    for track, label in zip(X, y):
        track += 20.0 if label == "loud" else 0.0
    assert make_baseline_pipeline().fit(X[:30], y[:30]).score(X[30:], y[30:]) == 1.0
