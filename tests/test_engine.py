"""The torch engine: no scikit-learn in it, its private torch names, the process settings
it restores, pooling, the networks and the augmentations."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from sklearn_genre.engine import (
    CRNN,
    Augment,
    ShortChunkCRNN,
    cpu_runtime,
    flush_denormal_enabled,
    mel_band_frequencies,
    mixup,
    pool_windows,
    process_settings,
    random_crops,
    stacked_lstm,
    window_scores,
)

from .conftest import make_separable

ENGINE = Path(__file__).parents[1] / "sklearn_genre" / "engine"


def test_the_engine_imports_neither_scikit_learn_nor_skorch():
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
                assert node.level <= 1, f"{path.name} imports from outside the engine"
            else:
                continue
            for name in names:
                assert name.split(".")[0] in {"torch", "numpy", "contextlib", "threading",
                                              "math", "dataclasses", "os", "ctypes",
                                              "platform", "concurrent", "__future__"}, \
                    f"{path.name} imports {name}"


def test_private_torch_names_are_only_in_one_module_and_exist():
    from sklearn_genre.engine import _torch

    package = ENGINE.parent
    for path in package.rglob("*.py"):
        if path.name == "_torch.py":
            continue
        text = path.read_text()
        assert "torch._C" not in text and "torch._VF" not in text and "_new_shared" not in text, \
            path
    assert _torch.has_storage_use_count()  # the supported torch releases have it
    tensor = torch.zeros(3)
    view = tensor[1:]
    assert _torch.storage_use_count(tensor) == _torch.storage_use_count(view) >= 2


def test_fit_and_predict_restore_threads_and_the_denormal_flag(rng):
    from sklearn_genre import CRNNClassifier

    X, y = make_separable(rng, n_tracks=40)
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        before = process_settings()
        assert before["flush_denormal"] == flush_denormal_enabled()
        clf = CRNNClassifier(max_epochs=2, verbose=0, random_state=0, n_jobs=2).fit(X, y)
        assert process_settings() == before
        clf.predict_proba(X)
        clf.predict_proba_windows(X)
        assert process_settings() == before
    torch.set_flush_denormal(False)
    with cpu_runtime(n_jobs=2):
        assert flush_denormal_enabled()  # inside: flushed (faster LSTM backward)
    assert not flush_denormal_enabled()


def test_pooling_gives_the_mean_window_probability():
    logits = torch.randn(3, 5, 4)
    softmax = torch.softmax(pool_windows(logits, "mean_proba"), -1)
    torch.testing.assert_close(softmax, torch.softmax(logits, -1).mean(1))
    sigmoid = torch.sigmoid(pool_windows(logits, "mean_proba", output="sigmoid"))
    torch.testing.assert_close(sigmoid, torch.sigmoid(logits).mean(1))
    torch.testing.assert_close(pool_windows(logits, "mean"), logits.mean(1))
    torch.testing.assert_close(pool_windows(logits, "max"), logits.amax(1))
    assert torch.isfinite(pool_windows(torch.full((1, 2, 3), 500.0), "mean_proba",
                                       output="sigmoid")).all()
    scores = window_scores(logits, output="sigmoid")
    assert scores.shape == (3, 5, 4) and not torch.allclose(scores.sum(-1), torch.ones(3, 5))
    with pytest.raises(ValueError, match="window_pooling must be one of"):
        pool_windows(logits, "median")


def test_stacked_lstm_equals_the_fused_lstm_without_dropout():
    lstm = torch.nn.LSTM(8, 16, num_layers=3, batch_first=True)
    x = torch.randn(4, 20, 8)
    torch.testing.assert_close(stacked_lstm(lstm, x, 0.0), lstm(x)[0])
    state = torch.get_rng_state()
    fresh = torch.nn.LSTM(8, 16, num_layers=2, batch_first=True)
    before = torch.get_rng_state()
    stacked_lstm(fresh, x, 0.0)  # builds its one-layer helpers without drawing numbers
    assert torch.equal(torch.get_rng_state(), before)
    torch.set_rng_state(state)


@pytest.mark.parametrize("shape", [(2, 8, 96, 128), (3, 1, 16, 64), (2, 2, 8, 9)])
def test_short_chunk_crnn_takes_any_window_size(shape):
    net = ShortChunkCRNN(n_mels=shape[2], n_classes=5).eval()
    assert net.window_logits(torch.randn(*shape)).shape == (shape[0], shape[1], 5)
    assert net(torch.randn(*shape)).shape == (shape[0], 5)
    with pytest.raises(ValueError, match="built for"):
        net(torch.randn(2, shape[2] + 1, 64))


def test_short_chunk_crnn_convolves_channels_last_and_loads_any_layout():
    torch.manual_seed(0)
    net = ShortChunkCRNN(n_mels=16, n_classes=3, channels=(8, 16), pools=((2, 2), (2, 2)),
                         hidden_size=8).eval()
    for conv in net.convs:
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.convs[1].weight.is_contiguous()  # (with one input channel both hold)
    x = torch.randn(2, 3, 16, 32)
    expected = net.window_logits(x)
    # the same weights in the default layout (a state dict saved elsewhere) give the same
    # logits up to float32 rounding, and loading them keeps the channels-last layout
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    other = ShortChunkCRNN(n_mels=16, n_classes=3, channels=(8, 16), pools=((2, 2), (2, 2)),
                           hidden_size=8).eval()
    other.load_state_dict(state)
    assert not other.convs[1].weight.is_contiguous()
    torch.testing.assert_close(other.window_logits(x), expected, rtol=1e-4, atol=1e-5)
    plain = ShortChunkCRNN(n_mels=16, n_classes=3, channels=(8, 16), pools=((2, 2), (2, 2)),
                           hidden_size=8).eval()
    plain.convs.to(memory_format=torch.contiguous_format)
    plain.load_state_dict(state)
    assert plain.convs[1].weight.is_contiguous()
    torch.testing.assert_close(plain.window_logits(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options", [
    {"rnn": "lstm", "time_pooling": "attention"}, {"rnn": None, "time_pooling": "max"},
    {"norm": None, "input_norm": "global", "stats_head": True},
    {"num_layers": 2, "bidirectional": False, "time_pooling": "last"},
])
def test_short_chunk_crnn_options_learn_a_separable_task(rng, options):
    X, y = make_separable(rng, n_tracks=48, n_mels=16, n_frames=64)
    torch.manual_seed(0)
    net = ShortChunkCRNN(n_mels=16, n_classes=2, channels=(8, 16), pools=((2, 2), (2, 2)),
                         hidden_size=16, **options)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    Xt, yt = torch.as_tensor(X), torch.as_tensor((y == "rock").astype(np.int64))
    for _ in range(40):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        optimizer.step()
    net.eval()
    assert (net(Xt).argmax(1) == yt).float().mean() > 0.9


def test_networks_reject_unknown_options():
    with pytest.raises(ValueError, match="rnn must be one of"):
        ShortChunkCRNN(rnn="transformer")
    with pytest.raises(ValueError, match="one .frequency, time. pair per convolution"):
        ShortChunkCRNN(channels=(8, 16), pools=((2, 2),))
    with pytest.raises(ValueError, match="window_pooling"):
        CRNN(window_pooling="median")


def test_random_crops_are_slices_drawn_per_window():
    windows = torch.arange(2 * 3 * 4 * 50, dtype=torch.float32).view(2, 3, 4, 50)
    crops = random_crops(windows, 20)
    assert crops.shape == (2, 3, 4, 20)
    starts = set()
    for row in range(2):
        for w in range(3):
            start = int(crops[row, w, 0, 0] - windows[row, w, 0, 0])
            torch.testing.assert_close(crops[row, w], windows[row, w, :, start:start + 20])
            starts.add(start)
    assert len(starts) > 1
    assert random_crops(windows, 60) is windows  # shorter than the crop: unchanged


def test_augmentations_do_what_they_say():
    x = torch.randn(4, 2, 32, 64)
    torch.manual_seed(0)
    masked = Augment(time_masks=1, time_mask_frames=10, freq_masks=1, freq_mask_bands=5)(x)
    zero = masked == 0
    assert zero.any() and not zero.all() and torch.equal(masked[~zero], x[~zero])
    gained = Augment(gain=0.5)(x) - x  # one offset per window, within the range
    offsets = gained.flatten(2)
    torch.testing.assert_close(offsets, offsets[..., :1].expand_as(offsets))
    assert offsets.abs().max() <= 0.5
    tilted = Augment(tilt=1.0)(x) - x  # a ramp over the bands, the same at every frame
    torch.testing.assert_close(tilted[..., 0:1].expand_as(tilted), tilted)
    shifted = Augment(band_shift=3)(x)
    for row in shifted.flatten(0, 1).unbind(0):
        assert any(torch.equal(row[3:-3], original[3 - k:x.shape[2] - 3 - k])
                   for original in x.flatten(0, 1).unbind(0) for k in range(-3, 4))
    same = Augment(stretch=1e-9)(x)  # a factor of 1: the same frames
    torch.testing.assert_close(same, x, atol=1e-4, rtol=0)
    assert Augment()(x) is x
    weight, partner = mixup(0.4, 8)
    assert 0.5 <= weight <= 1 and sorted(partner.tolist()) == list(range(8))
    with pytest.raises(ValueError, match="unknown entries"):
        Augment.from_param({"pitch": 2})
    with pytest.raises(ValueError, match="must be >= 0"):
        Augment(gain=-1)
    with pytest.raises(ValueError, match="fmax must be above fmin"):
        Augment(pitch_shift=1, fmin=6000.0)


def test_mel_band_frequencies_are_librosas():
    librosa = pytest.importorskip("librosa")
    for n_mels, fmin, fmax in ((96, 0.0, 6000.0), (128, 30.0, 11025.0), (40, 0.0, 800.0)):
        expected = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]
        np.testing.assert_allclose(mel_band_frequencies(n_mels, fmin, fmax).numpy(),
                                   expected, rtol=1e-9)


def test_pitch_shift_moves_a_partial_by_its_interval():
    centers = mel_band_frequencies(96)
    x = torch.zeros(1, 1, 96, 8)
    x[..., 40, :] = 1.0  # one partial at band 40 (about 1176 Hz)
    for semitones in (12.0, 7.0, 3.0):
        torch.manual_seed(0)
        augment = Augment(pitch_shift=semitones)
        draw = float(torch.rand(1)) * 2 * semitones - semitones  # the draw it will make
        torch.manual_seed(0)
        moved = augment(x)[0, 0]
        torch.testing.assert_close(moved, moved[:, :1].expand_as(moved))  # every frame alike
        moved = moved[:, 0]
        assert moved.sum() > 0.5
        peak = float((moved * centers).sum() / moved.sum())  # centroid of the moved partial
        np.testing.assert_allclose(peak, float(centers[40]) * 2 ** (draw / 12), rtol=0.02)
    x = torch.randn(2, 3, 96, 16)
    torch.testing.assert_close(Augment(pitch_shift=1e-9)(x), x, atol=1e-5, rtol=0)
