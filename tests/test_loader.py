"""Out-of-core batches: LazyWindows.read_batch, WindowBatches, reused buffers, priority."""

import os
import sys

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit
from torch.utils.data import DataLoader, default_collate

from sklearn_genre import CRNNClassifier, MelNormalizer, MelWindower, make_genre_pipeline
from sklearn_genre._data import unwrap
from sklearn_genre._workers import (
    IdleWorkers,
    ReusedBuffers,
    WindowBatches,
    collated,
    loader_over_windows,
)
from sklearn_genre.datasets import LazyMelList, to_time_major
from sklearn_genre.exceptions import DataFileError, SpectrogramError


def _write(tmp_path, tracks, name="t"):
    paths = []
    for i, track in enumerate(tracks):
        paths.append(tmp_path / f"{name}{i}.npy")
        np.save(paths[-1], track)
    return paths


@pytest.fixture
def files(tmp_path, rng):
    """Band-major float32 tracks of different lengths, one shorter than a window."""
    lengths = [500, 90, 700, 333, 1000, 260]
    tracks = [rng.normal(-40, 10, (16, n)).astype(np.float32) for n in lengths]
    return LazyMelList(_write(tmp_path, tracks), n_mels=16), tracks


def _windows(lazy, random, n_windows=3, window_frames=128):
    norm = MelNormalizer().fit(lazy)
    windower = MelWindower(n_windows, window_frames,
                           train_offsets="random" if random else "even")
    if random:
        return windower.fit_transform(norm.transform(lazy))
    return windower.fit(lazy).transform(norm.transform(lazy))


@pytest.mark.parametrize("random", [False, True])
@pytest.mark.parametrize("layout", ["band_major", "time_major_float16"])
def test_read_batch_equals_the_stacked_tracks(files, tmp_path, random, layout):
    lazy, _ = files
    if layout != "band_major":
        lazy = to_time_major(lazy, tmp_path / "tm")
    windows = _windows(lazy, random)
    rows = [4, 1, 0, 5, 1]  # a padded short track (1), twice; any order
    torch.manual_seed(3)
    expected = np.stack([windows[i] for i in rows])
    after_expected = torch.rand(3)
    torch.manual_seed(3)
    batch = windows.read_batch(rows)
    assert torch.equal(torch.rand(3), after_expected)  # the same random draws, in order
    assert batch.shape == (5, 3, 16, 128) and batch.dtype == torch.float32
    np.testing.assert_array_equal(batch.numpy(), expected)
    if layout != "band_major":  # a transposed view of time-major memory
        assert batch.transpose(2, 3).is_contiguous()
    sub = windows[[2, 3]]
    torch.manual_seed(4)
    expected = np.stack([sub[0], sub[1]])
    torch.manual_seed(4)
    np.testing.assert_array_equal(sub.read_batch().numpy(), expected)


def test_read_batch_of_windows_without_a_batch_form_falls_back(files):
    lazy, tracks = files
    # per-track normalization is not frame-local: track by track, same values
    norm = MelNormalizer(scope="track").fit(lazy)
    windows = MelWindower(2, 64).fit(lazy).transform(norm.transform(lazy))
    np.testing.assert_array_equal(windows.read_batch([0, 2]).numpy(),
                                  np.stack([windows[0], windows[2]]))


def test_read_batch_errors_name_the_track_or_file(tmp_path, rng):
    tracks = [rng.normal(-40, 10, (16, 400)).astype(np.float32) for _ in range(3)]
    tracks[2][5, 300:] = np.nan
    paths = _write(tmp_path, tracks)
    windows = MelWindower(2, 128).fit_transform(LazyMelList(paths, n_mels=16))
    windows.read_batch([0, 1])
    with pytest.raises(SpectrogramError, match="track 2 contains .*NaN"):
        windows.read_batch([0, 2])
    os.remove(paths[1])
    with pytest.raises(DataFileError, match="not found.*t1.npy"):
        windows.read_batch([1])
    np.save(paths[0], np.zeros((8, 400), np.float32))  # replaced: the header is re-read
    with pytest.raises(DataFileError, match="t0.npy has 8 mel bands; expected 16"):
        windows.read_batch([0])


def _identity_tracks(tmp_path, n_tracks=40):
    """Track i holds the value i everywhere: a batch shows which tracks it holds."""
    tracks = [np.full((8, 200 + 7 * i), float(i), np.float32) for i in range(n_tracks)]
    return LazyMelList(_write(tmp_path, tracks), n_mels=8)


def test_reused_buffers_never_overwrite_a_batch_still_held(tmp_path):
    windows = MelWindower(2, 64, train_offsets="random").fit_transform(
        _identity_tracks(tmp_path))
    y = np.arange(40)
    from skorch.dataset import Dataset
    params = {"batch_size": 4, "shuffle": True, "num_workers": 2, "prefetch_factor": 2}
    loader = loader_over_windows(DataLoader, unwrap(Dataset(windows, y)), params, reuse=True)
    assert isinstance(loader, ReusedBuffers)
    kept, storages = [], set()
    for epoch in range(3):
        for X, yb in loader:
            # what each window holds is its track's value: the label
            assert torch.equal(X[:, :, 0, 0], yb[:, None].float().expand(-1, 2))
            storages.add(X.untyped_storage().data_ptr())
            if epoch == 1:
                kept.append((X, yb))  # held on to: these buffers must not come back
    assert len(storages) < 3 * 10  # buffers were reused ...
    for X, yb in kept:  # ... but never one whose batch was still held
        assert torch.equal(X[:, :, 0, 0], yb[:, None].float().expand(-1, 2))


def test_window_batches_without_workers_and_collation(files):
    lazy, _ = files
    windows = _windows(lazy, random=False)
    batches = WindowBatches(windows, np.arange(6) % 2, indices=np.array([5, 0, 2]))
    assert len(batches) == 3
    X, y = collated(batches.__getitems__([0, 2]))
    np.testing.assert_array_equal(X.numpy(), np.stack([windows[5], windows[2]]))
    assert y.tolist() == [1, 0]
    X1, y1 = batches[1]
    np.testing.assert_array_equal(X1.numpy(), windows[0])


@pytest.mark.parametrize("layout", ["band_major", "time_major_float16"])
def test_fit_through_batches_equals_fit_through_per_track_collation(files, tmp_path, layout):
    lazy, _ = files
    if layout != "band_major":  # batches are transposed views of time-major memory
        lazy = to_time_major(lazy, tmp_path / "tm")
    y = np.array(list("abbaab"))

    def fit(**params):
        pipe = make_genre_pipeline(
            window__n_windows=2, window__window_frames=96, window__train_offsets="random",
            clf__train_crop_frames=None, clf__max_epochs=3, clf__batch_size=2,
            clf__train_split=None, clf__random_state=0, clf__verbose=0, **params)
        return pipe.fit(lazy, y)

    fast = fit()
    slow = fit(clf__iterator_train__collate_fn=default_collate)
    # the same batches in other memory layouts (a time-major batch is a transposed view):
    # the convolutions may sum in another order, and three epochs carry the rounding on
    # (relative differences up to 4e-5 measured)
    np.testing.assert_allclose(fast[-1].history[:, "train_loss"],
                               slow[-1].history[:, "train_loss"], rtol=1e-4)
    np.testing.assert_allclose(fast.predict_proba(lazy), slow.predict_proba(lazy), atol=1e-4)


def _record_policy(path):
    def record(worker_id):
        from sklearn_genre._workers import _ioprio
        io_class = _ioprio()
        with open(path, "a") as f:
            f.write(f"{worker_id} {os.sched_getscheduler(0)} "
                    f"{'?' if io_class is None else io_class >> 13}\n")
    return record


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux's")
@pytest.mark.parametrize("priority", ["idle", "normal"])
def test_worker_priority_and_the_users_worker_init_fn(files, tmp_path, priority):
    lazy, _ = files
    log = tmp_path / "policy.txt"
    clf = CRNNClassifier(max_epochs=1, train_split=None, verbose=0, random_state=0,
                         worker_priority=priority, iterator_train__num_workers=1,
                         iterator_train__worker_init_fn=_record_policy(log),
                         iterator_train__multiprocessing_context="fork")
    clf.fit(MelWindower(2, 64).fit_transform(lazy), np.array(list("abbaab")))
    worker, policy, io_class = log.read_text().split()
    assert worker == "0"
    assert int(policy) == (os.SCHED_IDLE if priority == "idle" else os.SCHED_OTHER)
    if priority == "idle" and io_class != "?":
        assert io_class == "2"  # best-effort disk priority, not the idle class


def test_invalid_worker_priority_is_an_error(files):
    lazy, _ = files
    clf = CRNNClassifier(max_epochs=1, verbose=0, worker_priority="high",
                         iterator_train__num_workers=1)
    with pytest.raises(ValueError, match="worker_priority must be 'idle', 'low' or 'normal'"):
        clf.fit(MelWindower(2, 64).fit_transform(lazy), np.array(list("abbaab")))


def test_idle_workers_calls_the_users_function_after_lowering_priority(monkeypatch):
    calls = []
    monkeypatch.setattr("sklearn_genre._workers.lower_priority", calls.append)
    IdleWorkers(lambda worker_id: calls.append(worker_id), "low")(3)
    assert calls == ["low", 3]


@pytest.mark.parametrize("layout", ["band_major", "time_major_float16"])
def test_random_crops_are_slices_of_the_windows_in_the_same_layout(files, tmp_path, layout):
    from sklearn_genre.engine import random_crops
    lazy, _ = files
    if layout != "band_major":
        lazy = to_time_major(lazy, tmp_path / "tm")
    windows = _windows(lazy, random=False).read_batch([0, 2, 4])
    crops = random_crops(windows, 50)
    assert crops.shape == (3, 3, 16, 50)
    for row in range(3):
        for w in range(3):
            full, crop = windows[row, w].numpy(), crops[row, w].numpy()
            assert any(np.array_equal(crop, full[:, s:s + 50]) for s in range(128 - 50 + 1))
    assert not torch.equal(random_crops(windows, 50), crops)  # redrawn


def test_default_pipeline_crops_lazy_windows_in_training_only(files, monkeypatch):
    from sklearn_genre import _base

    lazy, _ = files
    pipe = make_genre_pipeline(window__n_windows=2, window__window_frames=96,
                               window__train_offsets="random", clf__train_crop_frames=64,
                               clf__max_epochs=2, clf__batch_size=2, clf__verbose=0,
                               clf__random_state=0,
                               clf__train_split=ValidSplit(0.33, stratified=False))
    seen = []
    original = _base.CRNNBase.infer

    def spy(self, x, **fit_params):
        seen.append((self.module_.training, tuple(x.shape)))
        return original(self, x, **fit_params)

    monkeypatch.setattr(_base.CRNNBase, "infer", spy)
    pipe.fit(lazy, np.array(list("abbaab")))
    assert {shape[-1] for training, shape in seen if training} == {64}  # cropped
    assert {shape[-1] for training, shape in seen if not training} == {96}  # validation
    assert pipe.predict(lazy).shape == (6,)


def test_a_batch_asks_for_exactly_the_windows_of_a_time_major_file(files, tmp_path,
                                                                  monkeypatch):
    lazy, tracks = files
    copy = to_time_major(lazy, tmp_path / "tm")
    calls = []
    monkeypatch.setattr(os, "posix_fadvise",
                        lambda fd, offset, length, advice: calls.append((offset, length)))
    out = torch.empty(2, 2, 16, 50)
    lazy.read_windows([0, 2], [[0, 100], [7, 9]], 50, out)  # band-major: mapped
    assert calls == []
    np.testing.assert_array_equal(out[1].numpy(),
                                  np.stack([tracks[2][:, 7:57], tracks[2][:, 9:59]]))
    copy.read_windows([0, 2], [[0, 100], [7, 9]], 50, out)
    header = np.load(copy.paths[0], mmap_mode="r").offset
    row = 16 * 2  # float16 frames of 16 bands
    assert calls[:2] == [(header, 50 * row), (header + 100 * row, 50 * row)]
    assert len(calls) == 4  # all asked for before any is read
    np.testing.assert_allclose(out[0].numpy(),
                               np.stack([tracks[0][:, :50], tracks[0][:, 100:150]]), atol=0.032)
    with pytest.raises(DataFileError, match="too short for a window of 50 frames at 480"):
        copy.read_windows([0], [[480]], 50, out[:1])


def test_a_bad_track_read_in_a_worker_is_an_error_naming_it(tmp_path, rng):
    tracks = [rng.normal(-40, 10, (16, 400)).astype(np.float32) for _ in range(12)]
    tracks[7][3, 50:] = np.nan
    lazy = LazyMelList(_write(tmp_path, tracks), n_mels=16)
    pipe = make_genre_pipeline(
        norm__scope="band", norm__max_fit_tracks=3, window__n_windows=2,
        window__window_frames=64, window__train_offsets="random", clf__max_epochs=1,
        clf__batch_size=4, clf__verbose=0, clf__train_split=None,
        clf__iterator_train__num_workers=1)
    with pytest.raises(SpectrogramError, match=r"track 7 contains \d+ NaN"):
        pipe.fit(lazy, np.array(list("ab") * 6))


def _steps(windows):
    """The batch steps of lazily read windows, by kind."""
    return ["check" if step.checks_finite else "normalize"
            for step in windows._batch_plan()[1]]


@pytest.mark.parametrize("bad, message", [
    (np.nan, "track 2 contains 6 NaN and 0 infinite"),
    (-np.inf, "track 2 contains 0 NaN and 6 infinite"),
    (3e38, "track 2 contains 0 NaN and 6 infinite"),  # finite, overflows when normalized
])
def test_a_normalized_batch_is_checked_once_with_the_same_errors(tmp_path, rng, bad, message):
    tracks = [rng.normal(-40, 1e-3, (16, 400)).astype(np.float32) for _ in range(3)]
    paths = _write(tmp_path, tracks)
    lazy = LazyMelList(paths, n_mels=16)
    norm = MelNormalizer(scope="band").fit(lazy)  # scale ~1e-3: 3e38 / 1e-3 overflows
    windows = MelWindower(1, 400).fit(lazy).transform(norm.transform(lazy))
    assert _steps(windows) == ["normalize", "check"]  # the check before it is dropped
    windows.read_batch([0, 1])
    tracks[2][5, 100:106] = bad
    np.save(paths[2], tracks[2])
    with pytest.raises(SpectrogramError, match=message):
        windows.read_batch([0, 2])
    if np.isnan(bad) or np.isinf(bad):  # read track by track: the same error
        with pytest.raises(SpectrogramError, match=message):
            windows[2]


def test_a_check_is_kept_when_only_it_expects_the_band_count(rng):
    from sklearn_genre._lazy import BatchStep, without_repeated_checks
    from sklearn_genre._validation import BatchCheck

    def check(n_mels):
        return BatchCheck(n_mels=n_mels, reference=16, estimator_name=None)

    tracks = [rng.normal(size=(16, 20)).astype(np.float32)]
    normalize = MelNormalizer().fit(tracks).transform(LazyMelListLike(tracks)).batch_transform
    assert normalize.keeps_nonfinite and not normalize.checks_finite
    first, later = check(16), check(16)
    assert without_repeated_checks([first, normalize, later]) == [normalize, later]
    assert without_repeated_checks([check(None), normalize, later]) == [normalize, later]
    other = check(12)  # a different band count: both stay
    assert without_repeated_checks([first, normalize, other]) == [first, normalize, other]

    class Unknown(BatchStep):  # a step that may hide NaN
        def __call__(self, windows, owners):
            pass

    unknown = Unknown()
    assert without_repeated_checks([first, unknown, later]) == [first, unknown, later]


class LazyMelListLike:
    """A lazily loading sequence (not a list): the transformers stay lazy on it."""

    def __init__(self, tracks):
        self.tracks = tracks

    def __len__(self):
        return len(self.tracks)

    def __getitem__(self, index):
        return self.tracks[index]
