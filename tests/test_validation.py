import numpy as np
import pytest

from sklearn_genre import (
    MelNormalizer,
    MelTrimmer,
    MelWindower,
    SpectrogramError,
    check_spectrograms,
    check_windows,
)

TRANSFORMERS = [MelTrimmer(n_frames=100), MelNormalizer(), MelWindower(2, 50)]


def test_dense_stays_dense_and_float32():
    X = np.zeros((2, 96, 10), dtype=np.float64)
    out = check_spectrograms(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == X.shape


def test_ragged_becomes_list_of_float32(ragged):
    out = check_spectrograms(tuple(ragged))
    assert isinstance(out, list)
    assert [t.shape for t in out] == [t.shape for t in ragged]
    assert all(t.dtype == np.float32 for t in out)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(96), r"shape \(96,\).*3-D"),
        (np.zeros((96, 100)), r"single track"),
        (np.zeros((1, 1, 2, 3, 4)), r"shape \(1, 1, 2, 3, 4\)"),
        (np.zeros((0, 96, 10)), "no tracks"),
        ([], "no tracks"),
        ([np.zeros((96, 10)), np.zeros((64, 10))], "track 1 has 64 mel bands but track 0 has 96"),
        ([np.zeros((96, 10)), np.zeros((96, 0))], "track 1 is empty"),
        ([np.zeros((96, 10)), np.zeros(96)], r"track 1 has shape \(96,\)"),
        ([np.zeros((96, 10)), np.array([["a", "b"]])], "track 1 has dtype"),
        (["song.mp3"], "track 0 is a string"),
        ("song.mp3", "X is a string"),
        (np.array([["x"]], dtype=object), "track 0"),
        (5, "got an object of type int"),
    ],
)
def test_bad_containers_raise_clear_errors(X, match):
    with pytest.raises(SpectrogramError, match=match):
        check_spectrograms(X)


def test_nan_and_inf_name_the_track():
    X = [np.zeros((96, 10)), np.zeros((96, 10)), np.zeros((96, 10))]
    X[2][5, 3] = np.nan
    X[2][6, 3] = np.inf
    with pytest.raises(SpectrogramError, match="track 2 contains 1 NaN and 1 infinite"):
        check_spectrograms(X)
    dense = np.zeros((3, 96, 10))
    dense[1, 0, 0] = -np.inf
    with pytest.raises(SpectrogramError, match="track 1 contains 0 NaN and 1 infinite"):
        check_spectrograms(dense)


def test_errors_are_value_errors():
    assert issubclass(SpectrogramError, ValueError)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_n_mels_must_match_fit(transformer, rng):
    transformer.fit([rng.normal(size=(96, 120))])
    with pytest.raises(SpectrogramError, match="64 mel bands, but .* was fitted with 96"):
        transformer.transform([rng.normal(size=(64, 120))])


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("bad", ["nan", "empty", "mixed", "1d"])
def test_transformers_reject_bad_input(transformer, bad):
    X = [np.zeros((96, 120)), np.zeros((96, 80))]
    if bad == "nan":
        X[1][0, 0] = np.nan
    elif bad == "empty":
        X[1] = np.zeros((96, 0))
    elif bad == "mixed":
        X[1] = np.zeros((40, 80))
    else:
        X = np.zeros(120)
    with pytest.raises(SpectrogramError):
        transformer.fit_transform(X)


def test_check_windows_makes_3d_one_window_and_rejects_ragged(rng):
    assert check_windows(np.zeros((2, 96, 10))).shape == (2, 1, 96, 10)
    assert check_windows(np.zeros((2, 3, 96, 10), dtype=np.float16)).dtype == np.float16
    with pytest.raises(SpectrogramError, match="different lengths.*MelTrimmer or MelWindower"):
        check_windows([np.zeros((96, 10)), np.zeros((96, 12))])
    with pytest.raises(SpectrogramError, match="was fitted with 96"):
        check_windows(np.zeros((2, 3, 40, 10)), n_mels=96)
