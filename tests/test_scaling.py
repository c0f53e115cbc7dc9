"""Scaling: lazy random windows through DataLoader workers, Dask search, accelerate DDP."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_genre import LazyWindows, MelWindower, make_genre_pipeline
from sklearn_genre._validation import check_windows
from sklearn_genre.datasets import LazyMelList


def _pulse_tracks(rng, n_tracks=32):
    """Tracks of different lengths; class "b" has a fast on/off pattern in its low bands,
    which survives per-track normalization."""
    tracks, labels = [], []
    for i in range(n_tracks):
        track = rng.normal(-40, 10, (16, int(rng.integers(300, 900)))).astype(np.float32)
        if i % 2:
            track[:6] += 15 * np.sign(np.sin(np.arange(track.shape[1]) / 3.0))
        tracks.append(track)
        labels.append("ab"[i % 2])
    return tracks, np.array(labels)


@pytest.fixture
def dump(tmp_path, rng):
    tracks, labels = _pulse_tracks(rng)
    paths = []
    for i, track in enumerate(tracks):
        np.save(tmp_path / f"{i}.npy", track)
        paths.append(tmp_path / f"{i}.npy")
    return LazyMelList(paths, n_mels=16), tracks, labels


def _is_slice_of(window, track):
    n = window.shape[1]
    return any(np.array_equal(window, track[:, s:s + n]) for s in range(track.shape[1] - n + 1))


def test_random_windows_are_redrawn_at_every_read_and_are_real_slices(rng):
    tracks, _ = _pulse_tracks(rng, 4)
    windower = MelWindower(n_windows=3, window_frames=64, train_offsets="random")
    train = windower.fit_transform(tracks)
    assert isinstance(train, LazyWindows) and len(train) == 4
    first, second = train[1], train[1]
    assert first.shape == (3, 16, 64) and first.dtype == np.float32
    assert not np.array_equal(first, second)
    assert all(_is_slice_of(w, tracks[1]) for w in first)
    # prediction: evenly spread windows, dense for in-memory input
    dense = windower.transform(tracks)
    assert isinstance(dense, np.ndarray)
    np.testing.assert_array_equal(dense, MelWindower(3, 64).fit_transform(tracks))


def test_lazy_tracks_give_lazy_windows_equal_to_the_dense_ones(dump):
    lazy, tracks, _ = dump
    windower = MelWindower(n_windows=2, window_frames=100).fit(lazy)
    windows = windower.transform(lazy)
    assert isinstance(windows, LazyWindows)
    assert check_windows(windows, n_mels=16) is windows  # validation does not load it all
    np.testing.assert_array_equal(np.stack([windows[i] for i in range(len(windows))]),
                                  windower.transform(tracks))
    assert isinstance(windows[[0, 3]], LazyWindows) and len(windows[2:5]) == 3


def test_out_of_core_pipeline_learns_with_workers_and_is_reproducible(dump):
    lazy, tracks, y = dump

    def fit():
        pipe = make_genre_pipeline(
            window__window_frames=128, window__train_offsets="random",
            clf__train_crop_frames=None, clf__max_epochs=12, clf__random_state=0,
            clf__verbose=0, clf__iterator_train__num_workers=2)
        return pipe.fit(lazy, y)

    first, second = fit(), fit()
    np.testing.assert_array_equal(first.predict_proba(lazy), second.predict_proba(lazy))
    assert first.score(lazy, y) >= 0.9
    # the same pipeline on the tracks in memory predicts the same from a lazy dump
    np.testing.assert_allclose(first.predict_proba(tracks), first.predict_proba(lazy),
                               atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning",
                            "ignore::UserWarning")
def test_grid_search_on_a_dask_local_cluster_matches_the_local_search(rng):
    distributed = pytest.importorskip("distributed")
    from sklearn_genre.scaling import WORKER_ENVIRON, local_dask_cluster

    tracks, y = _pulse_tracks(rng, 24)
    X = MelWindower(2, 128).fit_transform(tracks)
    grid = {"lr": [0.003, 0.01]}

    def search():
        from sklearn_genre import CRNNClassifier
        return GridSearchCV(CRNNClassifier(max_epochs=3, verbose=0, random_state=0,
                                           batch_size=8, n_jobs=1),
                            grid, cv=StratifiedKFold(2), n_jobs=-1)

    with local_dask_cluster(n_workers=2, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        environ = client.run(lambda: {k: os.environ.get(k) for k in WORKER_ENVIRON})
        threads = client.run(torch.get_num_threads)
        with joblib.parallel_backend("dask"):
            remote = search().fit(X, y)
    assert len(environ) == 2 and all(e == WORKER_ENVIRON for e in environ.values())
    assert set(threads.values()) == {1}  # one torch thread per single-threaded worker
    local = search().set_params(n_jobs=1).fit(X, y)
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_


def test_accelerate_two_cpu_processes_end_with_identical_weights(tmp_path):
    pytest.importorskip("accelerate")
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    script = Path(__file__).parent / "scripts" / "accelerate_fit.py"
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    result = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29731", str(script),
         str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["history"] == ranks[1]["history"] == 4
    for name, weight in ranks[0]["state"].items():
        if "running_" in name:
            # batch-norm statistics are buffers, not gradients: DDP hands rank 0's to the
            # others at the start of each forward, so after the last step each rank holds
            # the statistics of its own last batch (rank 0's are the ones saved)
            torch.testing.assert_close(weight, ranks[1]["state"][name], atol=0.1, rtol=0)
        else:  # parameters: all-reduced gradients, the same updates on every rank
            assert torch.equal(weight, ranks[1]["state"][name]), name
    assert ranks[0]["accuracy"] >= 0.9


def test_band_normalized_lazy_windows_read_only_their_frames(dump):
    """With fitted per-band statistics, windows are cut before normalizing (only their
    frames are read from disk) and equal the windows of the normalized tracks."""
    from sklearn_genre import MelNormalizer
    from sklearn_genre._validation import LazyTracks

    lazy, tracks, _ = dump
    norm = MelNormalizer(scope="band").fit(tracks)
    normalized = norm.transform(lazy)
    assert isinstance(normalized, LazyTracks) and normalized.frame_local
    windower = MelWindower(n_windows=3, window_frames=200).fit(tracks)
    lazy_windows = windower.transform(normalized)
    calls = []
    original = norm._normalize
    norm._normalize = lambda track, index=None: calls.append(track.shape) or original(track)
    normalized.transform = norm._normalize
    got = np.stack([lazy_windows[i] for i in range(len(lazy_windows))])
    assert set(calls) == {(16, 200)}  # windows normalized, never whole tracks
    np.testing.assert_allclose(got, windower.transform(norm.transform(tracks)), atol=1e-5)
    assert not MelNormalizer(scope="track_band").fit(tracks).transform(lazy).frame_local


def test_time_major_copy_gives_the_same_windows_and_resumes(dump, tmp_path):
    from sklearn_genre import MelNormalizer
    from sklearn_genre.datasets import to_time_major
    from sklearn_genre.exceptions import DataFileError

    lazy, tracks, _ = dump
    copy = to_time_major(lazy, tmp_path / "tm", n_jobs=2)
    assert copy.time_major and len(copy) == len(lazy) and "time_major=True" in repr(copy)
    assert np.load(copy.paths[0], mmap_mode="r").shape == tracks[0].shape[::-1]
    assert copy[0].shape == tracks[0].shape and copy[0].dtype == np.float16
    np.testing.assert_allclose(copy[3], tracks[3], atol=0.04)  # float16 rounding, dB
    assert isinstance(copy[[1, 2]], LazyMelList) and copy[[1, 2]].time_major
    # the same pipeline steps read the same windows (up to float16 rounding)
    norm = MelNormalizer(scope="band").fit(tracks)
    windower = MelWindower(n_windows=3, window_frames=200).fit(tracks)
    ours = windower.transform(norm.transform(copy))
    ref = windower.transform(norm.transform(tracks))
    np.testing.assert_allclose(np.stack([ours[i] for i in range(len(ours))]), ref, atol=0.01)
    # a second call reuses every file; a changed source file is converted again
    mtimes = [Path(p).stat().st_mtime_ns for p in copy.paths]
    again = to_time_major(lazy.paths, tmp_path / "tm", n_jobs=1)
    assert [Path(p).stat().st_mtime_ns for p in again.paths] == mtimes
    np.save(lazy.paths[0], tracks[0] + 1.0)
    assert to_time_major(lazy, tmp_path / "tm").paths[0] != copy.paths[0]
    # bad input: named files, never a half-written copy
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((16, 50), 1e6, np.float32))
    with pytest.raises(DataFileError, match="bad.npy.*float16"):
        to_time_major(LazyMelList([bad], n_mels=16), tmp_path / "tm2")
    assert not list((tmp_path / "tm2").glob("*.npy"))
    assert to_time_major(LazyMelList([bad], n_mels=16), tmp_path / "tm3",
                         dtype="float32")[0].max() == 1e6
    with pytest.raises(DataFileError, match="not found"):
        to_time_major([tmp_path / "missing.npy"], tmp_path / "tm4")
    with pytest.raises(ValueError, match="already time-major"):
        to_time_major(copy, tmp_path / "tm5")
