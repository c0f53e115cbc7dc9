import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import classification_report
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit
from skorch.exceptions import DeviceWarning

from sklearn_genre import CRNNClassifier, MelNormalizer, MelWindower, SpectrogramError
from sklearn_genre.nn import CRNN, MaxPoolReLU

from .conftest import SMALL_NET, make_separable

FAST = dict(max_epochs=12, batch_size=16, verbose=0, random_state=0, **SMALL_NET)


def test_the_seed_preset_is_the_original_projects_documented_network():
    clf = CRNNClassifier.from_preset("seed")
    assert clf.lr == 0.01 and clf.optimizer__weight_decay == 0.001
    assert clf.module is CRNN and clf.train_loss == "track" and clf.lr_schedule is None
    net = CRNN(n_mels=96, n_classes=11, **clf.get_params_for("module"))
    convs = [m for m in net.conv if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [8, 16]
    assert all(c.kernel_size == (3,) for c in convs)
    assert [m.pool_size for m in net.conv if isinstance(m, MaxPoolReLU)] == [2, 2]
    assert net.lstm.batch_first and net.lstm.hidden_size == 16 and net.lstm.num_layers == 3
    assert net.lstm.dropout == 0.5
    assert net.head[0].out_features == 32 and net.head[2].p == 0.5
    assert net(torch.zeros(4, 96, 1400)).shape == (4, 11)
    assert net(torch.zeros(4, 3, 96, 256)).shape == (4, 11)


def test_the_defaults_are_the_measured_configuration():
    from sklearn_genre.engine import ShortChunkCRNN

    clf = CRNNClassifier()
    assert clf.module is ShortChunkCRNN and clf.lr == 0.001
    assert clf.optimizer__weight_decay == 1e-4 and clf.optimizer is torch.optim.Adam
    assert clf.train_loss == "window" and clf.lr_schedule == "onecycle"
    assert clf.train_split is None and clf.max_epochs == 40 and clf.device == "cpu"
    net = ShortChunkCRNN(n_mels=96, n_classes=10)
    assert [c.out_channels for c in net.convs] == [16, 32, 64, 64, 128]
    assert isinstance(net.rnn, torch.nn.GRU) and net.rnn.bidirectional
    assert net.rnn.hidden_size == 64 and net.window_pooling == "mean_proba"
    assert net(torch.zeros(2, 8, 96, 128)).shape == (2, 10)


@pytest.mark.parametrize("time_pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("window_pooling", ["mean", "max", "mean_proba"])
def test_tracks_never_mix_inside_a_batch(time_pooling, window_pooling, rng):
    """The original fed (batch, 16, 350) to an LSTM without batch_first: it ran along the
    batch axis and a track's output depended on the other tracks. Ours must not."""
    net = CRNN(n_mels=16, n_classes=3, time_pooling=time_pooling,
               window_pooling=window_pooling).eval()
    X = torch.as_tensor(rng.normal(size=(9, 2, 16, 40)), dtype=torch.float32)
    alone = net(X[:1])
    batched = net(X)[:1]
    shuffled = net(X.flip(0))[-1:]
    torch.testing.assert_close(alone, batched, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(alone, shuffled, rtol=1e-5, atol=1e-5)


def test_prediction_alone_equals_prediction_in_batch(separable):
    X, y = separable
    clf = CRNNClassifier(**FAST).fit(X, y)
    batch = clf.predict_proba(X[:20])
    alone = np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(20)])
    np.testing.assert_allclose(alone, batch, rtol=1e-5, atol=1e-6)


def test_string_labels_in_and_out(separable):
    X, y = separable
    clf = CRNNClassifier(**FAST).fit(X, y)
    assert clf.classes_.tolist() == ["blues", "rock"]
    pred = clf.predict(X)
    assert set(pred) <= {"blues", "rock"}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))
    assert clf.score(X, y) > 0.9  # the classes are separable: it must learn them
    assert {"train_loss", "train_acc"} <= set(clf.history_[-1])
    curves = CRNNClassifier(**{**FAST, "max_epochs": 2},
                            train_split=ValidSplit(0.2, stratified=True)).fit(X, y)
    assert {"train_loss", "train_acc", "valid_loss", "valid_acc"} <= set(curves.history_[-1])


def test_three_classes_and_sorted_classes(rng):
    X, y = make_separable(rng, n_tracks=90, labels=("rock", "jazz", "blues"))
    clf = CRNNClassifier(**{**FAST, "max_epochs": 25}).fit(X, y)
    assert clf.classes_.tolist() == ["blues", "jazz", "rock"]
    assert clf.module_.head.out_features == 3 and clf.n_mels_ == 16
    assert clf.score(X, y) > 0.8


def test_same_seed_same_predictions_different_seed_different(separable):
    X, y = separable
    a = CRNNClassifier(**FAST).fit(X, y).predict_proba(X)
    b = CRNNClassifier(**FAST).fit(X, y).predict_proba(X)
    c = CRNNClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_seeding_leaves_global_torch_rng_alone(separable):
    X, y = separable
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CRNNClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_class_weight(rng):
    X, y = make_separable(rng, n_tracks=40)
    y[:30] = "blues"
    clf = CRNNClassifier(**{**FAST, "max_epochs": 1}, class_weight="balanced").fit(X, y)
    n_blues = int(np.sum(y == "blues"))
    assert n_blues == 35
    np.testing.assert_allclose(clf.class_weight_, [40 / (2 * n_blues), 40 / (2 * (40 - n_blues))])
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), clf.class_weight_, rtol=1e-6)
    clf = CRNNClassifier(**{**FAST, "max_epochs": 1}, class_weight={"rock": 3.0}).fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, [1.0, 3.0])
    with pytest.raises(ValueError, match="names labels not in y"):
        CRNNClassifier(**FAST, class_weight={"pop": 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight must be"):
        CRNNClassifier(**FAST, class_weight="auto").fit(X, y)


def test_early_stopping_restores_best_and_none_split_trains_on_all(separable):
    X, y = separable
    clf = CRNNClassifier(**{**FAST, "max_epochs": 60}, patience=3, lr_schedule=None, lr=0.03,
                         train_split=ValidSplit(0.2, stratified=True)).fit(X, y)
    losses = clf.history_[:, "valid_loss"]
    assert len(losses) < 60  # stopped early
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 3
    no_split = CRNNClassifier(**{**FAST, "max_epochs": 3}, train_split=None).fit(X, y)
    assert len(no_split.history_) == 3 and "valid_loss" not in no_split.history_[-1]


def test_windows_are_pooled_per_track(separable):
    X, y = separable
    windows = np.stack([X[:, :, :32], X[:, :, 32:]], axis=1)  # (n, 2, 16, 32)
    clf = CRNNClassifier(**FAST).fit(windows, y)
    assert clf.predict_proba(windows).shape == (len(X), 2)
    assert clf.score(windows, y) > 0.9


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.zeros((4, 16, 8)), ["a", "b", "a"], "4 tracks but y has 3 labels"),
        (np.zeros((4, 16, 8)), ["a"] * 4, "single class"),
        (np.zeros((4, 16, 8)), None, "requires y"),
        (np.zeros((4, 16, 8)), np.zeros((4, 3)), "expected one label per track"),
        (np.zeros((4, 16, 8)), [0.5, np.nan, 1.0, 0.5], "NaN"),
        (np.zeros(16), ["a", "b"], "expects 3-D tracks"),
        (np.zeros((2, 1, 1, 16, 8)), ["a", "b"], "expects 3-D tracks"),
        (np.full((2, 16, 8), np.nan), ["a", "b"], "track 0 contains"),
        ([np.zeros((16, 8)), np.zeros((16, 9))], ["a", "b"], "different lengths"),
    ],
)
def test_bad_fit_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        CRNNClassifier(**FAST).fit(X, y)


def test_bad_predict_input(separable):
    X, y = separable
    clf = CRNNClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    with pytest.raises(SpectrogramError, match="8 mel bands, but CRNNClassifier was fitted"):
        clf.predict(np.zeros((2, 8, 64)))
    with pytest.raises(SpectrogramError, match="contains"):
        clf.predict(np.full((2, 16, 64), np.inf))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CRNNClassifier().predict(X)


def test_clone_keeps_params_not_state(separable):
    X, y = separable
    clf = CRNNClassifier(**{**FAST, "module__hidden_size": 8},
                         optimizer__weight_decay=0.0).fit(X, y)
    twin = clone(clf)
    assert twin.module__hidden_size == 8 and twin.optimizer__weight_decay == 0.0
    assert not hasattr(twin, "label_encoder_")
    assert clf.module_.rnn.hidden_size == 8


def _pipeline(**clf_params):
    return Pipeline([
        ("norm", MelNormalizer()),
        ("window", MelWindower(n_windows=2, window_frames=32)),
        ("clf", CRNNClassifier(**{**FAST, **clf_params})),
    ])


def test_grid_search_stratified_kfold_and_report(rng):
    X, y = make_separable(rng, n_tracks=60)
    X = list(X)  # ragged container through the pipeline
    grid = {"clf__module__hidden_size": [8, 16], "clf__lr": [0.01]}
    search = GridSearchCV(_pipeline(), grid, cv=StratifiedKFold(3)).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_score_ > 0.8
    report = classification_report(y, search.predict(X))
    assert "blues" in report and "rock" in report


def test_grid_search_with_groups_and_cross_val_score(rng):
    X, y = make_separable(rng, n_tracks=60)
    groups = np.arange(60) // 3  # 20 "artists" of 3 tracks
    cv = StratifiedGroupKFold(3)
    for train, test in cv.split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
    search = GridSearchCV(_pipeline(), {"clf__batch_size": [16]}, cv=cv)
    search.fit(X, y, groups=groups)
    assert search.best_score_ > 0.8
    scores = cross_val_score(_pipeline(), X, y, cv=cv, groups=groups)
    assert scores.shape == (3,) and scores.mean() > 0.8


class _RecordThreads(Callback):
    def on_train_begin(self, net, **kwargs):
        net.torch_threads_seen_ = torch.get_num_threads()


def test_no_thread_oversubscription_in_parallel_grid_search(separable):
    X, y = separable
    clf = CRNNClassifier(**{**FAST, "max_epochs": 1}, callbacks=[_RecordThreads()])
    search = GridSearchCV(clf, {"lr": [0.01, 0.02]}, cv=2, n_jobs=2, refit=False,
                          scoring=lambda est, X, y: float(est.torch_threads_seen_))
    search.fit(X, y)
    import os

    assert np.all(search.cv_results_["mean_test_score"] <= max(1, (os.cpu_count() or 2) // 2))


def test_joblib_roundtrip_in_fresh_process(separable, tmp_path):
    X, y = separable
    pipe = _pipeline().fit(list(X), y)
    path = tmp_path / "genre.joblib"
    joblib.dump(pipe, path)
    np.save(tmp_path / "X.npy", X)
    expected = pipe.predict_proba(list(X))
    np.save(tmp_path / "expected.npy", expected)
    code = textwrap.dedent(f"""
        import joblib, numpy as np
        pipe = joblib.load({str(path)!r})
        X = np.load({str(tmp_path / 'X.npy')!r})
        got = pipe.predict_proba(list(X))
        # another process: float32 rounding may differ (thread count, kernels)
        np.testing.assert_allclose(got, np.load({str(tmp_path / 'expected.npy')!r}),
                                   rtol=0, atol=1e-5)
        assert list(pipe.predict(list(X[:2]))) == {list(pipe.predict(list(X[:2])))!r}
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_model_saved_for_cuda_loads_on_cpu(separable, tmp_path):
    """A net whose device is "cuda" unpickles on a CPU-only machine (skorch maps it)."""
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA to check the CPU fallback")
    X, y = separable
    clf = CRNNClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf.device = "cuda"  # as if trained on a GPU
    joblib.dump(clf, tmp_path / "m.joblib")
    with pytest.warns(DeviceWarning, match="cuda.*not available"):
        loaded = joblib.load(tmp_path / "m.joblib")
    assert str(loaded.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_validation_split_works_on_small_folds(rng):
    X, y = make_separable(rng, n_tracks=21, labels=tuple("abcdefg"))  # 3 tracks per class
    split = {"train_split": ValidSplit(0.2, stratified=True)}
    clf = CRNNClassifier(**{**FAST, "max_epochs": 2}, **split).fit(X, y)
    assert len(clf.history_) == 2 and "valid_loss" in clf.history_[-1]
    y[0] = "solo"  # a class with one track: falls back to an unstratified split
    CRNNClassifier(**{**FAST, "max_epochs": 1}, **split).fit(X, y)
    with pytest.raises(ValueError, match="too few for a validation split"):
        CRNNClassifier(**FAST, **split).fit(X[:8], np.array(list("abcdefgh")))


def test_random_state_instance_is_drawn_once_per_fit(separable):
    X, y = separable
    a = CRNNClassifier(**{**FAST, "random_state": np.random.RandomState(5)}).fit(X, y)
    b = CRNNClassifier(**{**FAST, "random_state": np.random.RandomState(5)}).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_random_crops_in_training_only(separable):
    from sklearn_genre.engine import random_crops

    X, y = separable
    windows = torch.as_tensor(X[:, np.newaxis])  # (n, 1, 16, 64)
    torch.manual_seed(0)
    first = random_crops(windows[:1], 20)[0]
    assert first.shape == (1, 16, 20)
    # the crop is a contiguous piece of the window
    offsets = [s for s in range(45) if torch.equal(first[0], windows[0, 0, :, s:s + 20])]
    assert len(offsets) == 1
    crops = {tuple(random_crops(windows[:1], 20)[0, 0, 0, :3].tolist()) for _ in range(10)}
    assert len(crops) > 1  # drawn anew each call
    clf = CRNNClassifier(**FAST, train_crop_frames=32).fit(windows.numpy(), y)
    assert clf.score(windows.numpy(), y) > 0.9  # predicts on whole 64-frame windows
    again = CRNNClassifier(**FAST, train_crop_frames=32).fit(windows.numpy(), y)
    np.testing.assert_array_equal(clf.predict_proba(windows.numpy()),
                                  again.predict_proba(windows.numpy()))


def test_same_seed_identical_predictions_in_two_fresh_processes(tmp_path):
    code = textwrap.dedent("""
        import sys, numpy as np
        from sklearn_genre import make_genre_pipeline
        rng = np.random.default_rng(0)
        X = [rng.normal(-40, 10, (16, int(n))).astype(np.float32)
             for n in rng.integers(80, 200, 30)]
        y = np.array(["a", "b", "c"] * 10)
        pipe = make_genre_pipeline(window__n_windows=2, window__window_frames=48,
                                   clf__train_crop_frames=32, clf__max_epochs=3,
                                   clf__verbose=0, clf__random_state=7).fit(X, y)
        np.save(sys.argv[1], pipe.predict_proba(X))
    """)
    outputs = []
    for k in range(2):
        out = tmp_path / f"proba{k}.npy"
        result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr
        outputs.append(np.load(out))
    # two processes draw the same random numbers; their float32 sums may round apart
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=0, atol=1e-5)
    assert not np.allclose(outputs[0], 1 / 3)  # it learned something, not a constant


def test_bfloat16_precision_close_to_float32(separable):
    X, y = separable
    full = CRNNClassifier(**FAST).fit(X, y)
    half = CRNNClassifier(**FAST, precision="bfloat16").fit(X, y)
    assert half.score(X, y) > 0.9
    # same weights, bf16 inference: probabilities within bf16's resolution
    full.set_params(precision="bfloat16")
    np.testing.assert_allclose(full.predict_proba(X), CRNNClassifier(**FAST).fit(
        X, y).predict_proba(X), atol=0.05)
    assert full.predict_proba_windows(X).shape == (len(X), 1, 2)
    with pytest.raises(ValueError, match="precision must be"):
        CRNNClassifier(**FAST, precision="fp8").fit(X, y)


def test_the_defaults_learn_an_easy_rhythm_task():
    """Each class pulses at its own period in the same bands (nothing else differs):
    ``CRNNClassifier()`` with its defaults, 25 epochs, after trimming and normalizing
    (the full-size check is benchmarks/bench_periodic.py: 96 bands, 1400 frames)."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from sklearn_genre import MelTrimmer
    from sklearn_genre.datasets import make_periodic_tracks

    data = make_periodic_tracks(90, n_mels=32, min_frames=150, max_frames=320,
                                bands=(8, 14), random_state=0)
    X = MelNormalizer().fit_transform(MelTrimmer(n_frames=256).fit_transform(data.data))
    X_train, X_test, y_train, y_test = train_test_split(X, data.target, test_size=30,
                                                        stratify=data.target, random_state=0)
    clf = CRNNClassifier(max_epochs=25, verbose=0, random_state=0).fit(X_train, y_train)
    assert f1_score(y_test, clf.predict(X_test), average="macro") >= 0.9
    assert clf.score(X_train, y_train) >= 0.95
