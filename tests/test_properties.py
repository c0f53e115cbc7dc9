"""Property-based tests: odd and bad input either works correctly or fails clearly.

Every case must end in a correct result or a ValueError / TypeError with a message: never
another exception type (a raw torch RuntimeError, an IndexError), a hang, or a silent
wrong answer (non-finite output, a wrong number of rows).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklearn_genre import (
    CRNNClassifier,
    MelNormalizer,
    MelSpectrogram,
    MelStatistics,
    MelTrimmer,
    MelWindower,
)

from .conftest import count_case

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FLOAT_ELEMENTS = st.one_of(
    st.floats(-200, 50, width=32),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, 1e-45]),
)
DTYPES = st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.complex64, "U3"])


@st.composite
def dense_arrays(draw):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
    if np.dtype(dtype).kind == "f":
        return draw(hnp.arrays(dtype, shape, elements=FLOAT_ELEMENTS.map(
            lambda v: np.float32(v) if dtype == np.float32 else v)))
    return draw(hnp.arrays(dtype, shape))


@st.composite
def track_lists(draw):
    n_mels = draw(st.sampled_from([0, 3, 4]))
    tracks = draw(st.lists(
        st.one_of(
            hnp.arrays(np.float64, st.tuples(st.sampled_from([n_mels, n_mels, 5]),
                                             st.integers(0, 7)), elements=FLOAT_ELEMENTS),
            hnp.arrays(np.float32, st.integers(0, 5)),
            st.text(max_size=3), st.none(), st.integers(),
            st.just(np.array([["a", "b"]], dtype=object)),
        ), max_size=4))
    return tracks


def _check_outcome(call, check_result, entry_point):
    count_case(entry_point)
    try:
        result = call()
    except (ValueError, TypeError) as exc:
        assert len(str(exc)) > 15, f"unclear message: {exc!r}"
        return
    check_result(result)


TRANSFORMERS = {
    "MelTrimmer": lambda: MelTrimmer(5),
    "MelNormalizer-band": lambda: MelNormalizer(),
    "MelNormalizer-global": lambda: MelNormalizer(scope="global"),
    "MelNormalizer-track_band": lambda: MelNormalizer(scope="track_band"),
    "MelWindower": lambda: MelWindower(2, 3),
    "MelStatistics": lambda: MelStatistics(),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
@settings(max_examples=200, **SETTINGS)
@given(X=st.one_of(dense_arrays(), track_lists()))
def test_transformers_work_or_fail_clearly(name, X):
    def check(out):
        assert len(out) == len(X)  # one row per track
        for row in out:
            assert np.isfinite(np.asarray(row, dtype=np.float64)).all()

    _check_outcome(lambda: TRANSFORMERS[name]().fit_transform(X), check, name)


@pytest.fixture(scope="module")
def fitted_classifier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4, 8)).astype(np.float32)
    y = np.array(["a", "b", "c"] * 4)
    return CRNNClassifier(max_epochs=1, batch_size=4, verbose=0, random_state=0,
                          train_split=None).fit(X, y)


@settings(max_examples=200, **SETTINGS)
@given(X=st.one_of(dense_arrays(), track_lists()))
def test_classifier_predict_works_or_fails_clearly(fitted_classifier, X):
    def check(proba):
        assert proba.shape == (len(X), 3)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)

    _check_outcome(lambda: fitted_classifier.predict_proba(X), check, "CRNNClassifier.predict")


LABELS = st.one_of(
    st.lists(st.sampled_from(["rock", "jazz", "pop"]), min_size=0, max_size=8),
    st.lists(st.one_of(st.integers(0, 2), st.none(), st.floats(allow_nan=True)), max_size=8),
    hnp.arrays(np.float64, st.tuples(st.integers(0, 8), st.integers(1, 3))),
    st.just(["rock"] * 6),
)


@settings(max_examples=60, **SETTINGS)
@given(y=LABELS, n_tracks=st.integers(1, 8), scale=st.sampled_from([1.0, 1e30]))
def test_classifier_fit_works_or_fails_clearly(y, n_tracks, scale):
    X = (np.random.default_rng(0).normal(size=(n_tracks, 4, 8)) * scale)

    def check(clf):
        proba = clf.predict_proba(X)
        assert proba.shape == (n_tracks, len(clf.classes_)) and np.isfinite(proba).all()
        assert set(clf.predict(X)) <= set(clf.classes_)

    _check_outcome(lambda: CRNNClassifier(max_epochs=1, batch_size=4, verbose=0,
                                          train_split=None, random_state=0).fit(X, y),
                   check, "CRNNClassifier.fit")


@settings(max_examples=150, **SETTINGS)
@given(item=st.one_of(
    st.tuples(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=300),
                         elements=FLOAT_ELEMENTS), st.sampled_from([8000, 12000, 44100])),
    st.text(max_size=5), st.integers(),
))
def test_audio_works_or_fails_clearly(item):
    def check(mels):
        assert len(mels) == 1 and mels[0].shape[0] == 96 and np.isfinite(mels[0]).all()

    _check_outcome(lambda: MelSpectrogram().transform([item]), check, "MelSpectrogram")


@settings(max_examples=120, **SETTINGS)
@given(lines=st.lists(st.lists(st.text(alphabet="abc0123456789.-/_ ", max_size=8),
                               max_size=8), max_size=5),
       header_ok=st.booleans())
def test_loader_works_or_fails_clearly(tmp_path_factory, lines, header_ok):
    from sklearn_genre.datasets import load_mtg_jamendo

    folder = tmp_path_factory.mktemp("tsv")
    header = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS" if header_ok else "ID\tX"
    (folder / "m.tsv").write_text("\n".join([header] + ["\t".join(f) for f in lines]) + "\n")

    def check(bunch):
        assert len(bunch.target) == len(bunch.data) == len(bunch.groups)

    _check_outcome(lambda: load_mtg_jamendo(folder / "m.tsv", folder, on_missing="skip"),
                   check, "load_mtg_jamendo")


@settings(max_examples=60, **SETTINGS)
@given(content=st.binary(max_size=64), suffix=st.sampled_from([".wav", ".flac", ".npy"]))
def test_cli_predict_never_crashes(tmp_path_factory, content, suffix, cli_model):
    import contextlib
    import io

    from sklearn_genre.cli import main

    folder = tmp_path_factory.mktemp("cli")
    path = folder / f"input{suffix}"
    path.write_bytes(content)
    count_case("cli predict")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["predict", str(cli_model), str(path)])
    assert code == 1 and err.getvalue().count("\n") == 1 and str(path) in err.getvalue()


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    from sklearn_genre import make_genre_pipeline, save

    rng = np.random.default_rng(0)
    X = [rng.normal(-60, 20, (96, 200)).astype(np.float32) for _ in range(8)]
    model = make_genre_pipeline(window__n_windows=2, window__window_frames=64,
                                clf__train_crop_frames=None, clf__max_epochs=1,
                                clf__verbose=0, clf__random_state=0).fit(X, ["a", "b"] * 4)
    return save(model, tmp_path_factory.mktemp("model") / "m.sgm")


@pytest.fixture(scope="module")
def fitted_tagger():
    from sklearn_genre import CRNNTagger

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4, 8)).astype(np.float32)
    y = [("a",), ("a", "b"), ("c",)] * 4
    return CRNNTagger(max_epochs=1, batch_size=4, verbose=0, random_state=0,
                      train_split=None).fit(X, y)


@settings(max_examples=150, **SETTINGS)
@given(X=st.one_of(dense_arrays(), track_lists()))
def test_tagger_predict_works_or_fails_clearly(fitted_tagger, X):
    def check(proba):
        assert proba.shape == (len(X), 3)
        assert np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()

    _check_outcome(lambda: fitted_tagger.predict_proba(X), check, "CRNNTagger.predict")
