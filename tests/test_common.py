"""The estimator contract, checked once for every public estimator on mel-spectrograms.

scikit-learn's common checks feed 2-D ``(n_samples, n_features)`` data, which these
estimators refuse by design: they take ``(n_tracks, n_mels, n_frames)`` arrays or ragged
lists of ``(n_mels, n_frames_i)`` tracks, and their tags say so, so
``parametrize_with_checks`` runs only the checks that need no data (kept below, with the
other data-free API checks). ``SKLEARN_SKIPPED`` lists every check scikit-learn skips for
them, with the reason and the check of this module that covers it (imbalanced-learn's
way of listing known failures). The equivalent checks run here on generated ragged tracks.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_genre import (
    ClassicFeatures,
    CRNNClassifier,
    CRNNTagger,
    MelNormalizer,
    MelSpectrogram,
    MelStatistics,
    MelTrimmer,
    MelWindower,
    SpectrogramError,
)

N_MELS = 16
TINY_NET = dict(max_epochs=2, batch_size=8, verbose=0, random_state=0,
                module__channels=(4, 8), module__pools=((2, 2), (2, 2)), module__hidden_size=8)


def _ragged(rng, n_tracks=24, n_mels=N_MELS):
    return [rng.normal(-40, 10, (n_mels, int(n))).astype(np.float32)
            for n in rng.integers(30, 80, n_tracks)]


def _dense(rng, n_tracks=24, n_mels=N_MELS):
    X = rng.normal(size=(n_tracks, n_mels, 48)).astype(np.float32)
    X[::2, :4] += 1.5
    return X


def _labels(n):
    return np.array(["jazz", "rock", "folk"] * (n // 3 + 1), dtype=object)[:n]


def _tags(n):
    return [("bass", "live") if i % 3 == 0 else ("bass",) if i % 3 == 1 else ("live",)
            for i in range(n)]


def _waveforms(rng, n_items=6):
    return [(0.1 * rng.normal(size=int(n)).astype(np.float32), 12000)
            for n in rng.integers(3000, 8000, n_items)]


@dataclass
class Case:
    """How to make, feed and read one estimator."""

    name: str
    make: Callable
    data: Callable  # rng -> (X, y)
    output: Callable  # (estimator, X) -> what it computes
    supervised: bool = False
    spectrograms: bool = True  # takes mels (n_mels checks apply)
    dense_only: bool = False
    tolerance: float = 0.0  # batch composition changes float32 sums in the networks

    def __repr__(self):
        return self.name


def _transform(est, X):
    return est.transform(X)


def _proba(est, X):
    return est.predict_proba(X)


CASES = [
    Case("MelTrimmer", lambda: MelTrimmer(n_frames=40), lambda rng: (_ragged(rng), None),
         _transform),
    Case("MelNormalizer", lambda: MelNormalizer(), lambda rng: (_ragged(rng), None),
         _transform),
    Case("MelNormalizer-track_band", lambda: MelNormalizer(scope="track_band"),
         lambda rng: (_ragged(rng), None), _transform),
    Case("MelWindower", lambda: MelWindower(n_windows=2, window_frames=24),
         lambda rng: (_ragged(rng), None), _transform),
    Case("MelStatistics", lambda: MelStatistics(), lambda rng: (_ragged(rng), None),
         _transform),
    Case("ClassicFeatures", lambda: ClassicFeatures(n_mfcc=8), lambda rng: (_ragged(rng), None),
         _transform),
    Case("MelSpectrogram", lambda: MelSpectrogram(), lambda rng: (_waveforms(rng), None),
         _transform, spectrograms=False),
    Case("CRNNClassifier", lambda: CRNNClassifier(**TINY_NET),
         lambda rng: (_dense(rng), _labels(24)), _proba, supervised=True, dense_only=True,
         tolerance=1e-5),
    Case("CRNNTagger", lambda: CRNNTagger(**TINY_NET), lambda rng: (_dense(rng), _tags(24)),
         _proba, supervised=True, dense_only=True, tolerance=1e-5),
]
CRNN_CASES = [case for case in CASES if case.supervised]


def _fit(case, X, y):
    est = case.make()
    return est.fit(X, y) if case.supervised else est.fit(X)


def _assert_same(a, b, tolerance):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, z in zip(a, b):
            _assert_same(x, z, tolerance)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    if tolerance:
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance)
    else:
        np.testing.assert_array_equal(a, b)


def _rows(X, index):
    return X[index] if isinstance(X, np.ndarray) else [X[i] for i in index]


def _target_rows(y, index):
    if y is None:
        return None
    return y[index] if isinstance(y, np.ndarray) else [y[i] for i in index]


# -- what scikit-learn can run ------------------------------------------------------

ESTIMATORS = [case.make() for case in CASES]

#: The checks scikit-learn skips for these estimators (it feeds them 2-D data), each with
#: the reason and the check of this module that covers what it asks.
_TWO_D = "feeds 2-D (n_samples, n_features) data; the estimators take mel-spectrograms"
SKLEARN_SKIPPED = {
    "check_estimators_fit_returns_self": f"{_TWO_D}: test_fit_returns_self",
    "check_fit_idempotent": f"{_TWO_D}: test_fitting_twice_gives_the_same_result",
    "check_methods_sample_order_invariance": f"{_TWO_D}: test_sample_order_invariance",
    "check_methods_subset_invariance": f"{_TWO_D}: test_batches_are_independent",
    "check_readonly_memmap_input": f"{_TWO_D}: test_read_only_and_memory_mapped_input",
    "check_estimators_dtypes": f"{_TWO_D}: test_float16_float32_float64_input",
    "check_transformer_preserve_dtypes": f"{_TWO_D}: test_float16_float32_float64_input "
                                         "(outputs are float32 by design)",
    "check_dict_unchanged": f"{_TWO_D}: test_input_and_estimator_unchanged_by_predict",
    "check_dont_overwrite_parameters": f"{_TWO_D}: test_get_set_params_round_trip",
    "check_estimators_overwrite_params": f"{_TWO_D}: test_get_set_params_round_trip",
    "check_estimators_unfitted": f"{_TWO_D}: test_not_fitted_error",
    "check_transformers_unfitted": f"{_TWO_D}: test_not_fitted_error",
    "check_fit_check_is_fitted": f"{_TWO_D}: test_not_fitted_error",
    "check_estimators_empty_data_messages": f"{_TWO_D}: test_empty_input_is_rejected",
    "check_classifiers_one_label": f"{_TWO_D}: test_one_class_is_rejected",
    "check_classifiers_one_label_sample_weights": "no sample weights; "
                                                  "test_one_class_is_rejected",
    "check_n_features_in": f"{_TWO_D}: test_unknown_n_mels_is_rejected (n_mels_)",
    "check_n_features_in_after_fitting": f"{_TWO_D}: test_unknown_n_mels_is_rejected",
    "check_estimators_pickle": f"{_TWO_D}: test_pickle_and_joblib_round_trip",
    "check_classifiers_classes": f"{_TWO_D}: test_string_and_integer_labels",
    "check_classifiers_train": f"{_TWO_D}: test_string_and_integer_labels; learning is "
                               "tested per estimator (test_classifier.py, test_tagger.py)",
    "check_classifier_data_not_an_array": f"{_TWO_D}: ragged lists are the other "
                                          "container (test_validation.py)",
    "check_transformer_data_not_an_array": f"{_TWO_D}: ragged lists are the other "
                                           "container (test_validation.py)",
    "check_transformer_general": f"{_TWO_D}: test_fitting_twice_gives_the_same_result, "
                                 "test_sample_order_invariance",
    "check_estimators_nan_inf": f"{_TWO_D}: test_validation.py names the track with NaN",
    "check_dtype_object": f"{_TWO_D}: test_validation.py rejects object arrays",
    "check_complex_data": f"{_TWO_D}: test_validation.py rejects non-real dtypes",
    "check_fit1d": f"{_TWO_D}: test_validation.py rejects 1-D input",
    "check_fit2d_1feature": _TWO_D,
    "check_fit2d_1sample": f"{_TWO_D}: test_validation_split_works_on_small_folds",
    "check_fit2d_predict1d": f"{_TWO_D}: test_validation.py rejects 1-D input",
    "check_f_contiguous_array_estimator": f"{_TWO_D}: test_read_only_and_memory_mapped_input"
                                          " includes non-contiguous views",
    "check_pipeline_consistency": f"{_TWO_D}: test_pipeline.py and test_fitting_twice",
    "check_fit_score_takes_y": f"{_TWO_D}: fit(X, y) everywhere; y is ignored by "
                               "transformers",
    "check_requires_y_none": f"{_TWO_D}: test_string_and_integer_labels (y=None raises)",
    "check_supervised_y_2d": f"{_TWO_D}: the tagger takes 2-D indicator targets "
                             "(test_string_and_integer_labels)",
    "check_supervised_y_no_nan": f"{_TWO_D}: test_classifier.py rejects NaN labels",
    "check_classifiers_regression_target": f"{_TWO_D}: test_classifier.py rejects "
                                           "continuous targets",
    "check_decision_proba_consistency": "no decision_function",
    "check_class_weight_classifiers": f"{_TWO_D}: test_classifier.py (class_weight)",
    "check_class_weight_balanced_linear_classifier": "not a linear classifier",
    "check_non_transformer_estimators_n_iter": "no n_iter_",
    "check_transformer_n_iter": "no n_iter_",
    "check_sparsify_coefficients": "no coef_",
    "check_positive_only_tag_during_fit": "no positive-only inputs",
    "check_estimator_sparse_array": "no sparse input (spectrograms are dense)",
    "check_estimator_sparse_matrix": "no sparse input (spectrograms are dense)",
    "check_estimator_sparse_tag": "no sparse input (spectrograms are dense)",
    "check_estimators_partial_fit_n_features": "no partial_fit",
    "check_array_api_input": "no array API support (numpy and torch only)",
    "check_array_api_mixed_inputs": "no array API support",
    "check_array_api_same_namespace": "no array API support",
    "check_all_zero_sample_weights_error": "no sample weights",
    "check_sample_weights_list": "no sample weights",
    "check_sample_weights_not_an_array": "no sample weights",
    "check_sample_weights_not_overwritten": "no sample weights",
    "check_sample_weights_pandas_series": "no sample weights",
    "check_sample_weights_shape": "no sample weights",
    "check_sample_weight_equivalence_on_dense_data": "no sample weights",
    "check_sample_weight_equivalence_on_sparse_data": "no sample weights",
}

#: scikit-learn's checks that need no data: run on every estimator below.
DATA_FREE = ["check_no_attributes_set_in_init", "check_parameters_default_constructible",
             "check_get_params_invariance", "check_set_params", "check_estimator_repr",
             "check_estimator_cloneable", "check_do_not_raise_errors_in_init_or_set_params",
             "check_estimator_tags_renamed", "check_valid_tag_types", "check_mixin_order"]

#: Data-free checks that fail, and why.
KNOWN_FAILURES = {
    ("CRNNClassifier", "check_no_attributes_set_in_init"):
        "skorch's NeuralNet sets history_ and initialized_ in __init__ (skorch's design)",
    ("CRNNTagger", "check_no_attributes_set_in_init"):
        "skorch's NeuralNet sets history_ and initialized_ in __init__ (skorch's design)",
}


@parametrize_with_checks(ESTIMATORS)
def test_what_scikit_learn_runs(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore:.*occurred during set_params")  # skorch's callbacks=inf
@pytest.mark.filterwarnings("ignore:Estimator's parameters changed after set_params")
@pytest.mark.parametrize("check_name", DATA_FREE)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_scikit_learn_data_free_checks(case, check_name):
    reason = KNOWN_FAILURES.get((case.name, check_name))
    if reason:
        pytest.xfail(reason)
    check = getattr(estimator_checks, check_name)
    est = case.make()
    try:
        check(case.name, est)
    except TypeError as exc:  # checks that take (name, estimator_orig, legacy)
        if "positional argument" not in str(exc):
            raise
        check(case.name, est, True)


def test_every_check_scikit_learn_skips_is_listed_with_its_reason():
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    names = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (LogisticRegression(max_iter=50), StandardScaler()):
            names |= {r["check_name"] for r in estimator_checks.check_estimator(
                est, on_fail=None)}
    unlisted = names - set(SKLEARN_SKIPPED) - set(DATA_FREE)
    assert not unlisted, f"scikit-learn checks without a reason here: {sorted(unlisted)}"


# -- the equivalent checks for mel-spectrograms --------------------------------------

@pytest.mark.parametrize("case", CASES, ids=repr)
def test_get_set_params_round_trip_and_clone(case):
    est = case.make()
    params = est.get_params(deep=False)
    assert not [key for key in params if key.startswith("_")]  # public parameters only
    again = clone(est).set_params(**params)
    assert repr(again.get_params(deep=False)) == repr(params)
    assert "_params_to_validate" not in repr(est)
    X, y = case.data(np.random.default_rng(0))
    fitted = _fit(case, X, y)
    assert fitted.get_params(deep=False).keys() == params.keys()  # fit changes no parameter
    fresh = clone(fitted)
    assert not [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")
                and getattr(fresh, k) is not None
                and k not in ("history_", "initialized_", "virtual_params_")]  # skorch's


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_fit_returns_self(case, rng):
    X, y = case.data(rng)
    est = case.make()
    assert (est.fit(X, y) if case.supervised else est.fit(X)) is est


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_fitting_twice_gives_the_same_result(case, rng):
    X, y = case.data(rng)
    est = _fit(case, X, y)
    first = case.output(est, X)
    (est.fit(X, y) if case.supervised else est.fit(X))
    _assert_same(case.output(est, X), first, case.tolerance)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_sample_order_invariance(case, rng):
    X, y = case.data(rng)
    est = _fit(case, X, y)
    order = rng.permutation(len(X))
    expected = case.output(est, X)
    got = case.output(est, _rows(X, order))
    _assert_same(got, _rows(expected, order), case.tolerance)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_batches_are_independent(case, rng):
    X, y = case.data(rng)
    est = _fit(case, X, y)
    expected = case.output(est, X)
    for part in (slice(0, 1), slice(3, 11)):
        index = np.arange(len(X))[part]
        _assert_same(case.output(est, _rows(X, index)), _rows(expected, index),
                     case.tolerance)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_read_only_and_memory_mapped_input(case, rng, tmp_path):
    if not case.spectrograms:
        pytest.skip("audio input: waveforms are read, never written (test_audio.py)")
    X, y = case.data(rng)
    expected = case.output(_fit(case, X, y), X)
    if isinstance(X, np.ndarray):
        path = tmp_path / "X.npy"
        np.save(path, X)
        variants = [np.load(path, mmap_mode="r"), X[:, :, ::-1][:, :, ::-1]]
    else:
        variants = []
        for track in X:
            frozen = track.copy()
            frozen.setflags(write=False)
            variants.append(frozen)
        variants = [variants, [np.asfortranarray(track) for track in X]]
    for k, variant in enumerate(variants):
        # the second variant is another memory layout: numpy's sums may round differently
        tolerance = case.tolerance if k == 0 else max(case.tolerance, 1e-4)
        _assert_same(case.output(_fit(case, variant, y), variant), expected, tolerance)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_float16_float32_float64_input(case, dtype, rng):
    X, y = case.data(rng)
    reference = case.output(_fit(case, X, y), X)
    if case.spectrograms:
        cast = X.astype(dtype) if isinstance(X, np.ndarray) else [t.astype(dtype) for t in X]
    else:
        cast = [(wave.astype(dtype), rate) for wave, rate in X]
    got = case.output(_fit(case, cast, y), cast)
    if dtype == np.float16:  # ~3 significant digits in the input
        flat = np.concatenate([np.ravel(a) for a in (got if isinstance(got, list) else [got])])
        assert np.isfinite(flat).all()
        return
    scale = 1e-4 if case.supervised else 1e-3
    _assert_same(got, reference, scale if dtype == np.float64 else case.tolerance)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_input_and_estimator_unchanged_by_predict(case, rng):
    X, y = case.data(rng)
    if case.spectrograms:
        before = X.copy() if isinstance(X, np.ndarray) else [t.copy() for t in X]
    else:
        before = [(wave.copy(), rate) for wave, rate in X]
    est = _fit(case, X, y)
    state = joblib.hash({k: v for k, v in vars(est).items() if k.endswith("_")
                         and k not in ("history_", "module_", "optimizer_", "criterion_")})
    case.output(est, X)
    case.output(est, X)
    assert joblib.hash({k: v for k, v in vars(est).items() if k.endswith("_")
                        and k not in ("history_", "module_", "optimizer_",
                                      "criterion_")}) == state
    if case.spectrograms:
        _assert_same(X, before, 0.0)
    else:
        _assert_same([wave for wave, _ in X], [wave for wave, _ in before], 0.0)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_not_fitted_error(case, rng):
    est = case.make()
    X, _ = case.data(rng)
    if not est.__sklearn_tags__().requires_fit:
        case.output(est, X)  # stateless: works without fit
        return
    with pytest.raises(NotFittedError):
        case.output(est, X)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_empty_input_is_rejected(case):
    empty = np.zeros((0, N_MELS, 48), np.float32) if case.dense_only else []
    with pytest.raises(ValueError, match="no (tracks|audio files)|holds no|n_tracks == 0"):
        est = case.make().fit(empty, [] if case.supervised else None)
        case.output(est, empty)  # stateless transformers check their input here


@pytest.mark.parametrize("case", CRNN_CASES, ids=repr)
def test_one_class_is_rejected(case, rng):
    X, _ = case.data(rng)
    y = ["rock"] * len(X) if case.name == "CRNNClassifier" else [()] * len(X)
    with pytest.raises(ValueError, match="single class|no tags"):
        case.make().fit(X, np.array(y, dtype=object) if case.name == "CRNNClassifier"
                        else y)


@pytest.mark.parametrize("case", [c for c in CASES if c.spectrograms], ids=repr)
def test_unknown_n_mels_is_rejected(case, rng):
    X, y = case.data(rng)
    est = _fit(case, X, y)
    other = _dense(rng, 4, n_mels=12) if case.dense_only else _ragged(rng, 4, n_mels=12)
    if not est.__sklearn_tags__().requires_fit and case.name != "MelTrimmer" \
            and not hasattr(est, "n_mels_"):
        return
    with pytest.raises(SpectrogramError, match="12 mel bands.*fitted with 16"):
        case.output(est, other)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_pickle_and_joblib_round_trip(case, rng, tmp_path):
    X, y = case.data(rng)
    est = _fit(case, X, y)
    expected = case.output(est, X)
    _assert_same(case.output(pickle.loads(pickle.dumps(est)), X), expected, 0.0)
    joblib.dump(est, tmp_path / "est.joblib")
    _assert_same(case.output(joblib.load(tmp_path / "est.joblib"), X), expected, 0.0)


def test_string_and_integer_labels(rng):
    X = _dense(rng)
    strings = _labels(len(X))
    integers = np.array([{"jazz": 3, "rock": 7, "folk": 11}[s] for s in strings])
    for y in (strings, integers, list(strings)):
        clf = CRNNClassifier(**TINY_NET).fit(X, y)
        predicted = clf.predict(X)
        assert set(predicted) <= set(np.asarray(y).tolist())
        assert type(predicted[0]) is type(np.asarray(y)[0])
        assert clf.classes_.tolist() == sorted(set(np.asarray(y).tolist()))
    tags = _tags(len(X))
    tagger = CRNNTagger(**TINY_NET).fit(X, tags)
    assert all(isinstance(t, tuple) for t in tagger.predict(X))
    indicator = np.array([[int("bass" in t), int("live" in t)] for t in tags])
    assert CRNNTagger(**TINY_NET).fit(X, indicator).predict(X).shape == indicator.shape
    for est in (CRNNClassifier(**TINY_NET), CRNNTagger(**TINY_NET)):
        with pytest.raises(ValueError, match="requires y"):
            est.fit(X, None)
