"""Progress bars: on standard error with verbose, silent with verbose=0, never saved."""

import pickle
import zipfile

import numpy as np
import pytest

import sklearn_genre
from sklearn_genre import MelSpectrogram, make_genre_pipeline
from sklearn_genre._progress import progress, shows_progress

from .conftest import make_separable

TINY = dict(window__n_windows=2, window__window_frames=32, clf__train_crop_frames=None,
            clf__max_epochs=1, clf__module__hidden_size=8, clf__verbose=0,
            clf__random_state=0, clf__iterator_valid__batch_size=4)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_separable(np.random.default_rng(0), n_tracks=20, n_frames=64)
    return make_genre_pipeline(**TINY).fit(list(X), y), X


def test_rule_of_the_helper(capsys):
    assert list(progress(range(3), verbose=0)) == [0, 1, 2]
    assert not shows_progress(0, 1000) and not shows_progress(False)
    assert shows_progress(1, 2) and shows_progress(True)
    assert not shows_progress(None, 1000)  # standard error is not a terminal under pytest
    assert list(progress(range(3), verbose=1, desc="counting")) == [0, 1, 2]
    assert "counting" in capsys.readouterr().err


def test_predictions_show_progress_only_with_verbose(fitted, capsys):
    model, X = fitted
    model.set_params(clf__verbose=0)
    quiet = model.predict_proba(list(X))  # 20 tracks in 5 batches of 4
    assert capsys.readouterr().err == ""
    model.set_params(clf__verbose=1)
    loud = model.predict_proba(list(X))
    err = capsys.readouterr().err
    assert "CRNNClassifier predicting" in err and "track" in err
    np.testing.assert_array_equal(quiet, loud)
    model[-1].predict_proba_windows(model[:-1].transform(list(X)))
    assert "predicting" in capsys.readouterr().err
    model.predict_proba(list(X[:4]))  # a single batch: no bar
    assert capsys.readouterr().err == ""
    model.set_params(clf__verbose=0)


def test_no_progress_bar_in_pickles_or_model_files(fitted, tmp_path, capsys):
    model, X = fitted
    model.set_params(clf__verbose=1)
    model.predict_proba(list(X))
    assert "predicting" in capsys.readouterr().err
    assert b"tqdm" not in pickle.dumps(model)
    path = sklearn_genre.save(model, tmp_path / "genre.sgm")
    with zipfile.ZipFile(path) as archive:
        assert not any(b"tqdm" in archive.read(name) for name in archive.namelist())
    assert not any("tqdm" in type(v).__module__ for v in vars(model[-1]).values())
    model.set_params(clf__verbose=0)


def test_mel_extraction_progress(capsys):
    t = np.arange(12000) / 12000
    waves = [(np.sin(2 * np.pi * f * t).astype(np.float32), 12000) for f in (220, 440, 880)]
    quiet = MelSpectrogram().transform(waves)
    assert capsys.readouterr().err == ""
    loud = MelSpectrogram(verbose=1).transform(waves)
    assert "mel-spectrograms" in capsys.readouterr().err
    assert all(np.array_equal(a, b) for a, b in zip(quiet, loud))
    MelSpectrogram(verbose=1).transform(waves[:1])  # one item: no bar
    assert capsys.readouterr().err == ""


def test_corpus_rendering_progress(tmp_path, capsys):
    pytest.importorskip("music21")
    pytest.importorskip("tinysoundfont")
    from sklearn_genre.datasets import render_score_corpus

    small = dict(classes=["jig", "chorale"], n_per_class=1, clip_seconds=2.0)
    render_score_corpus(**small, data_home=tmp_path / "quiet", verbose=False)
    assert capsys.readouterr().err == ""
    # the bar counts the clips to render (cached clips are read before it starts)
    render_score_corpus(**small, data_home=tmp_path / "shown", verbose=True)
    err = capsys.readouterr().err
    assert "score corpus" in err and "clip" in err and "2/2" in err
