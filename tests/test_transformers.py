import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import estimator_checks

from sklearn_genre import MelNormalizer, MelTrimmer, MelWindower
from sklearn_genre.transformers import window_starts


def test_trimmer_default_reproduces_first_1400_frames(ragged):
    out = MelTrimmer().fit_transform(ragged)
    assert out.shape == (3, 96, 1400) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], ragged[0][:, :1400])
    np.testing.assert_array_equal(out[2], ragged[2])
    # the 500-frame track is padded after its end with its own minimum (silence)
    np.testing.assert_array_equal(out[1][:, :500], ragged[1])
    assert np.all(out[1][:, 500:] == ragged[1].min())


def test_trimmer_offsets(ragged):
    track = ragged[0]
    center = MelTrimmer(1000, offset="center").fit_transform([track])[0]
    np.testing.assert_array_equal(center, track[:, 1000:2000])
    end = MelTrimmer(1000, offset="end").fit_transform([track])[0]
    np.testing.assert_array_equal(end, track[:, -1000:])
    at = MelTrimmer(1000, offset=2500).fit_transform([track])[0]  # clipped inside the track
    np.testing.assert_array_equal(at, track[:, 2000:3000])


@pytest.mark.parametrize("pad_mode", ["constant", "edge", "wrap", "reflect"])
def test_trimmer_pad_modes_keep_track_and_length(pad_mode, rng):
    track = rng.normal(size=(4, 7)).astype(np.float32)
    out = MelTrimmer(20, pad_mode=pad_mode, pad_value=-80.0).fit_transform([track])[0]
    assert out.shape == (4, 20)
    np.testing.assert_array_equal(out[:, :7], track)
    if pad_mode == "constant":
        assert np.all(out[:, 7:] == -80.0)
    if pad_mode == "wrap":
        np.testing.assert_array_equal(out[:, 7:14], track)
    if pad_mode == "edge":
        assert np.all(out[:, 7:] == track[:, -1:])


def test_trimmer_center_pads_both_sides():
    track = np.ones((2, 4), dtype=np.float32)
    out = MelTrimmer(8, offset="center", pad_value=0.0).fit_transform([track])[0]
    np.testing.assert_array_equal(out[0], [0, 0, 1, 1, 1, 1, 0, 0])


def test_normalizer_band_learns_on_fit_data_only(rng):
    train = [rng.normal(5, 2, (96, 300)), rng.normal(5, 2, (96, 200))]
    norm = MelNormalizer().fit(train)
    both = np.concatenate(train, axis=1)
    np.testing.assert_allclose(norm.mean_[:, 0], both.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(norm.scale_[:, 0], both.std(axis=1), rtol=1e-4)
    out = norm.transform(train)
    assert isinstance(out, list) and [t.shape for t in out] == [(96, 300), (96, 200)]
    np.testing.assert_allclose(np.concatenate(out, axis=1).mean(axis=1), 0, atol=1e-4)
    test = [rng.normal(50, 2, (96, 100))]  # statistics are not re-learned on new data
    assert norm.transform(test)[0].mean() > 10


@pytest.mark.parametrize("scope", ["global", "track", "track_band"])
def test_normalizer_scopes(scope, rng):
    X = rng.normal(3, 4, (5, 96, 50)).astype(np.float32)
    X[:, 10] = 7.0  # a constant band stays finite
    out = MelNormalizer(scope=scope).fit_transform(X)
    assert out.shape == X.shape and np.isfinite(out).all()
    if scope == "global":
        assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-3
    if scope == "track":
        np.testing.assert_allclose(out.reshape(5, -1).mean(axis=1), 0, atol=1e-4)
    if scope == "track_band":
        np.testing.assert_allclose(out.mean(axis=2), 0, atol=1e-4)


def test_window_starts_spread_over_the_whole_track():
    assert window_starts(1000, 4, 250).tolist() == [0, 250, 500, 750]
    assert window_starts(10000, 3, 256).tolist() == [0, 4872, 9744]
    assert window_starts(100, 3, 256).tolist() == [0, 0, 0]


def test_windower_shapes_and_content(ragged):
    windower = MelWindower(n_windows=4, window_frames=256)
    out = windower.fit_transform(ragged)
    assert out.shape == (3, 4, 96, 256) and out.dtype == np.float32
    last_start = 3000 - 256
    np.testing.assert_array_equal(out[0, -1], ragged[0][:, last_start:])
    np.testing.assert_array_equal(out[0, 0], ragged[0][:, :256])


def test_windower_pads_short_tracks():
    short = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    out = MelWindower(n_windows=3, window_frames=16).fit_transform([short])
    assert out.shape == (1, 3, 2, 16)
    np.testing.assert_array_equal(out[0, 0, :, :10], short)
    assert np.all(out[0, :, :, 10:] == short.min())
    np.testing.assert_array_equal(out[0, 0], out[0, 2])


def test_documented_pipelines(ragged):
    trimmed = Pipeline([("trim", MelTrimmer()), ("norm", MelNormalizer())]).fit_transform(ragged)
    assert trimmed.shape == (3, 96, 1400)
    windows = Pipeline([("norm", MelNormalizer()), ("window", MelWindower(8, 256))])
    assert windows.fit_transform(ragged).shape == (3, 8, 96, 256)


@pytest.mark.parametrize("est", [MelTrimmer(50), MelNormalizer(), MelWindower(2, 20)],
                         ids=lambda e: type(e).__name__)
def test_clone_pickle_params(est, ragged):
    est.set_params(**est.get_params())
    fitted = clone(est).fit(ragged)
    restored = pickle.loads(pickle.dumps(fitted))
    out_a, out_b = fitted.transform(ragged), restored.transform(ragged)
    for a, b in zip(out_a, out_b):
        np.testing.assert_array_equal(a, b)
    tags = est.__sklearn_tags__()
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array


@pytest.mark.parametrize("est", [MelTrimmer(50), MelNormalizer(), MelWindower(2, 20)],
                         ids=lambda e: type(e).__name__)
def test_one_row_per_track_and_order_invariance(est, ragged):
    out = est.fit(ragged).transform(ragged)
    assert len(out) == len(ragged)
    reversed_out = est.transform(ragged[::-1])
    for a, b in zip(out, reversed_out[::-1]):
        np.testing.assert_array_equal(a, b)


def test_invalid_parameters_raise_in_fit(ragged):
    with pytest.raises(ValueError, match="n_frames"):
        MelTrimmer(n_frames=0).fit(ragged)
    with pytest.raises(ValueError, match="offset"):
        MelTrimmer(offset="middle").fit(ragged)
    with pytest.raises(ValueError, match="scope"):
        MelNormalizer(scope="band-wise").fit(ragged)
    with pytest.raises(ValueError, match="n_windows"):
        MelWindower(n_windows=0).fit(ragged)


# scikit-learn's estimator checks: the data-free API checks apply to 3-D estimators and run.
# Every other check feeds 2-D (n_samples, n_features) tables, which these spectrogram
# estimators reject by design (their tags declare three_d_array and not two_d_array, so
# `parametrize_with_checks` yields nothing for them); our own tests above cover the same
# contracts on 3-D data (fit returns self, pickling, order invariance, params not changed).
API_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
]


@pytest.mark.parametrize("check_name", API_CHECKS)
@pytest.mark.parametrize("est", [MelTrimmer(), MelNormalizer(), MelWindower()],
                         ids=lambda e: type(e).__name__)
def test_sklearn_api_checks(est, check_name):
    check = getattr(estimator_checks, check_name)
    try:
        check(type(est).__name__, est)
    except TypeError:  # checks that take (name, estimator_orig, legacy) or only estimator
        check(type(est).__name__, est, True)


def test_fit_returns_self_and_does_not_change_params(ragged):
    for est in (MelTrimmer(), MelNormalizer(), MelWindower()):
        params = est.get_params()
        assert est.fit(ragged) is est
        assert est.get_params() == params


def test_normalizer_can_learn_from_an_even_sample_of_tracks(rng):
    tracks = [rng.normal(-40 + 5 * i, 10, (8, 50 + i)).astype(np.float32) for i in range(5)]
    sampled = MelNormalizer(max_fit_tracks=3).fit(tracks)
    reference = MelNormalizer().fit([tracks[0], tracks[2], tracks[4]])
    np.testing.assert_allclose(sampled.mean_, reference.mean_)
    np.testing.assert_allclose(sampled.scale_, reference.scale_)
    assert not np.allclose(MelNormalizer().fit(tracks).mean_, sampled.mean_)
    np.testing.assert_allclose(MelNormalizer(max_fit_tracks=9).fit(tracks).mean_,
                               MelNormalizer().fit(tracks).mean_)
    with pytest.raises(ValueError, match="max_fit_tracks"):
        MelNormalizer(max_fit_tracks=0).fit(tracks)
