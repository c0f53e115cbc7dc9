import numpy as np
from sklearn.base import clone

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
    # the pipeline's classifier is the classifier with its own defaults
    assert pipe["clf"].get_params()["lr"] == CRNNClassifier().lr


def test_baseline_pipeline_learns_band_statistics(rng):
    X = [rng.normal(-40, 5, (96, int(n))) for n in rng.integers(100, 400, 40)]
    y = np.array(["quiet", "loud"] * 20)
    for track, label in zip(X, y):
        track += 20.0 if label == "loud" else 0.0
    assert make_baseline_pipeline().fit(X[:30], y[:30]).score(X[30:], y[30:]) == 1.0


def test_seed_ensemble_averages_members_and_keeps_string_labels(rng, tmp_path):
    import joblib
    import pytest

    from sklearn_genre import make_genre_ensemble

    tracks, labels = [], []
    for i in range(24):
        track = rng.normal(-40, 10, (16, int(rng.integers(200, 400)))).astype(np.float32)
        if i % 2:
            track[:6, ::4] += 15.0  # a pulse survives per-track normalization
        tracks.append(track)
        labels.append("ab"[i % 2])
    y = np.array(labels)
    ensemble = make_genre_ensemble(3, random_state=1, window__window_frames=64,
                                   clf__train_crop_frames=None, clf__max_epochs=20,
                                   clf__verbose=0)
    seeds = [m.get_params()["clf__random_state"] for _, m in ensemble.estimators]
    assert seeds == [100, 101, 102]
    ensemble.fit(tracks, y)
    proba = ensemble.predict_proba(tracks)
    members = np.mean([m.predict_proba(tracks) for m in ensemble.estimators_], axis=0)
    np.testing.assert_allclose(proba, members, atol=1e-6)
    assert set(ensemble.predict(tracks)) <= {"a", "b"}
    assert ensemble.score(tracks, y) >= 0.9
    assert not np.allclose(*(m.predict_proba(tracks) for m in ensemble.estimators_[:2]))
    joblib.dump(ensemble, tmp_path / "ensemble.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "ensemble.joblib").predict_proba(tracks),
                                  proba)
    with pytest.raises(ValueError, match="n_members"):
        make_genre_ensemble(0)


def test_random_state_seeds_every_random_step(rng):
    from sklearn_genre import make_genre_pipeline, make_tagging_pipeline

    small = dict(clf__max_epochs=2, clf__verbose=0, window__n_windows=2,
                 window__window_frames=32, window__train_offsets="random",
                 clf__train_crop_frames=24)
    pipe = make_genre_pipeline(random_state=3, **small)
    assert pipe.get_params()["clf__random_state"] == 3
    assert make_tagging_pipeline(random_state=4).get_params()["clf__random_state"] == 4
    X = [rng.normal(size=(16, int(n))).astype(np.float32) for n in rng.integers(40, 90, 12)]
    y = np.array(["a", "b"] * 6)
    first = pipe.fit(X, y).predict_proba(X)  # random windows, crops, weights, order
    np.testing.assert_array_equal(clone(pipe).fit(X, y).predict_proba(X), first)
    other = make_genre_pipeline(random_state=4, **small)
    assert not np.allclose(other.fit(X, y).predict_proba(X), first)


def test_classic_baseline_learns_timbre_and_checks_its_parameters(rng):
    import pytest

    from sklearn_genre import ClassicFeatures

    # two "timbres": energy high in the spectrum or low, same loudness on average
    X, y = [], np.array(["bright", "dark"] * 20)
    for label in y:
        track = rng.normal(-50, 3, (96, int(rng.integers(150, 400))))
        track[(slice(60, 96) if label == "bright" else slice(0, 36))] += 25.0
        X.append(track.astype(np.float32))
    model = make_baseline_pipeline(features="classic").fit(X[:30], y[:30])
    assert model.score(X[30:], y[30:]) == 1.0
    features = model[0]
    assert isinstance(features, ClassicFeatures) and len(features.feature_names_) == 65
    assert features.transform(X[:2]).shape == (2, 65)
    with pytest.raises(ValueError, match="features must be"):
        make_baseline_pipeline(features="mfcc")
    with pytest.raises(ValueError, match="n_mfcc"):
        ClassicFeatures(n_mfcc=0).fit(X)
    with pytest.raises(ValueError, match="mel bands|n_mels|bands"):
        features.transform([np.zeros((64, 100), dtype=np.float32)])
