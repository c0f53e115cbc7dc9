"""What the library promises whatever the thread count of the BLAS and OpenMP pools.

- The mel recipe: the same audio gives the same mel, bit for bit, on one machine
  (its BLAS calls run on one thread; see sklearn_genre.audio).
- Network outputs: float32 sums split over other thread counts round differently, so
  predictions agree to a tolerance, never bit for bit.
"""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from .conftest import SMALL_NET, make_separable

librosa = pytest.importorskip("librosa")


def _music(rng, seconds=6.0, sample_rate=22050):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * r * t))
                for f, r in ((220, 2), (330, 3), (1760, 5)))
    return (0.1 * tones + 0.01 * rng.normal(size=t.size)).astype(np.float32), sample_rate


def test_mel_recipe_is_exact_whatever_the_blas_threads(rng):
    from sklearn_genre.audio import mel_spectrogram

    waveform, rate = _music(rng)
    default = mel_spectrogram(waveform, rate)
    with threadpool_limits(1):
        single = mel_spectrogram(waveform, rate)
    with threadpool_limits(2):
        double = mel_spectrogram(waveform, rate)
    np.testing.assert_array_equal(single, default)
    np.testing.assert_array_equal(double, default)


def test_mel_transformer_is_exact_across_processes_and_batches(rng, tmp_path):
    soundfile = pytest.importorskip("soundfile")
    from sklearn_genre import MelSpectrogram

    paths = []
    for k in range(4):
        waveform, rate = _music(rng, seconds=3.0 + k)
        paths.append(tmp_path / f"clip{k}.wav")
        soundfile.write(paths[-1], waveform, rate)
    with threadpool_limits(1):
        serial = MelSpectrogram().transform(paths)
    parallel = MelSpectrogram(n_jobs=2).transform(paths)
    one_by_one = [MelSpectrogram().transform([path])[0] for path in paths]
    for a, b, c in zip(serial, parallel, one_by_one):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_predictions_agree_within_tolerance_whatever_the_threads(rng):
    from sklearn_genre import CRNNClassifier

    X, y = make_separable(rng, n_tracks=40)
    clf = CRNNClassifier(max_epochs=3, verbose=0, random_state=0, **SMALL_NET).fit(X, y)
    default = clf.predict_proba(X)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(1):
            single = clf.predict_proba(X)
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_allclose(single, default, rtol=0, atol=1e-5)
    # one track at a time (another batch size) agrees too
    alone = np.concatenate([clf.predict_proba(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(alone, default, rtol=0, atol=1e-5)



def _pid(_):
    import os

    return os.getpid()


def test_library_short_tasks_leave_fresh_workers_for_the_next_fits():
    """Short tasks run in a pool of their own, so the next parallel fits start with
    workers whose first task is a fit (loky measures memory growth from a worker's first
    task and replaces workers that grew 300 MB)."""
    from joblib import Parallel, delayed

    from sklearn_genre._jobs import own_workers

    with own_workers(2):
        own = set(Parallel(n_jobs=2)(delayed(_pid)(i) for i in range(4)))
    fits = set(Parallel(n_jobs=2)(delayed(_pid)(i) for i in range(4)))
    again = set(Parallel(n_jobs=2)(delayed(_pid)(i) for i in range(4)))
    assert own and fits and not own & fits
    assert again <= fits  # the default pool is reused as usual


@pytest.mark.parametrize("loop", ["corpus", "audio"])
def test_corpus_rendering_and_extraction_leave_fresh_workers(loop, tmp_path):
    psutil = pytest.importorskip("psutil")
    from joblib import Parallel, delayed

    if loop == "corpus":
        pytest.importorskip("music21")
        pytest.importorskip("tinysoundfont")
        from sklearn_genre.datasets import render_score_corpus

        render_score_corpus(classes=["jig", "reel"], n_per_class=2, clip_seconds=2.0,
                            data_home=tmp_path, n_jobs=2, verbose=False)
    else:
        soundfile = pytest.importorskip("soundfile")
        from sklearn_genre import MelSpectrogram

        paths = []
        for k in range(4):
            paths.append(tmp_path / f"tone{k}.wav")
            soundfile.write(paths[-1], _music(np.random.default_rng(k), 1.0)[0], 22050)
        MelSpectrogram(n_jobs=2).transform(paths)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    fits = set(Parallel(n_jobs=2)(delayed(_pid)(i) for i in range(4)))
    assert not fits & before  # the loop's workers never run the fits


def test_batch_norm_training_steps_get_torchs_threads_back(rng):
    """Batch-norm batches are never split across threads (their statistics need the whole
    batch), so their training steps run on torch's own thread count, not on the single
    thread the batch-splitting mode leaves the calling thread."""
    from sklearn_genre import CRNNClassifier
    from sklearn_genre.engine.parallel import whole_batch_threads, workers_only

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with whole_batch_threads():  # outside workers_only: nothing changes
            assert torch.get_num_threads() == 2
        with workers_only(2):
            assert torch.get_num_threads() == 1
            with whole_batch_threads():
                assert torch.get_num_threads() == 2
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2

        from skorch.callbacks import Callback

        seen = []

        class Record(Callback):
            def on_train_begin(self, net, **kwargs):
                first_conv = next(m for m in net.module_.modules()
                                  if isinstance(m, torch.nn.Conv2d))
                first_conv.register_forward_hook(
                    lambda module, i, o: seen.append((module.training,
                                                      torch.get_num_threads())))

        X, y = make_separable(rng, n_tracks=16)
        clf = CRNNClassifier(max_epochs=1, batch_size=8, n_jobs=2, verbose=0, random_state=0,
                             callbacks=[("record", Record())], **SMALL_NET)
        clf.fit(X, y)
        assert {threads for training, threads in seen if training} == {2}
        assert torch.get_num_threads() == 2  # restored after fit
    finally:
        torch.set_num_threads(previous)
