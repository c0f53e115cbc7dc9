"""ONNX export: the exported file, run in onnxruntime, predicts what the pipeline predicts."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from sklearn_genre import (  # noqa: E402
    MelSpectrogram,
    export_onnx,
    make_genre_pipeline,
    make_tagging_pipeline,
)
from sklearn_genre.engine import CRNN, ShortChunkCRNN  # noqa: E402
from sklearn_genre.export import METADATA_KEYS, ExportError  # noqa: E402

from .conftest import make_separable  # noqa: E402

SCRIPT = Path(__file__).parents[1] / "docs" / "examples" / "onnx_predict.py"
TINY = dict(window__n_windows=3, window__window_frames=32, clf__train_crop_frames=None,
            clf__max_epochs=2, clf__batch_size=8, clf__verbose=0, clf__random_state=0)
SHORT_CHUNK = dict(clf__module=ShortChunkCRNN, clf__module__channels=(4, 8),
                   clf__module__pools=((2, 2), (2, 2)), clf__module__hidden_size=8,
                   clf__module__kernel_size=3)


def _ragged(rng, n_mels=16):
    """Tracks of very different lengths: shorter than a window, a few windows, many."""
    return [rng.normal(size=(n_mels, n)).astype(np.float32) + 1.0 * (i % 2)
            for i, n in enumerate((20, 45, 130, 700, 33))]


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _metadata(path):
    props = onnx.load(str(path)).metadata_props
    return {p.key: json.loads(p.value) for p in props}


@pytest.mark.parametrize("network", ["CRNN", "ShortChunkCRNN"])
def test_exported_classifier_matches_predict_proba(network, rng, tmp_path):
    X, y = make_separable(rng, n_tracks=24, n_mels=16, n_frames=64)
    params = {**TINY, **(SHORT_CHUNK if network == "ShortChunkCRNN" else
                         {"clf__module": CRNN, "clf__module__hidden_size": 8,
                          "norm__scope": "track_band"})}
    model = make_genre_pipeline(**params).fit(list(X), y)
    path = export_onnx(model, tmp_path / "genre.onnx")
    tracks = _ragged(rng)
    windows = model[:-1].transform(tracks)
    session = _session(path)
    scores = session.run(["scores"], {"windows": windows})[0]
    np.testing.assert_allclose(scores, model.predict_proba(tracks), atol=1e-4)
    # batch and n_windows are dynamic: one track, and more windows than at fit
    one = session.run(["scores"], {"windows": windows[:1]})[0]
    np.testing.assert_allclose(one, scores[:1], atol=1e-5)
    wide = model.set_params(window__n_windows=5)[:-1].transform(tracks)
    assert windows.shape[1] == 3 and wide.shape[1] == 5
    np.testing.assert_allclose(session.run(["scores"], {"windows": wide})[0],
                               model.predict_proba(tracks), atol=1e-4)
    meta = _metadata(path)
    assert set(meta) == set(METADATA_KEYS)
    assert meta["classes"] == ["blues", "rock"] and meta["output"] == "softmax"
    assert meta["mel_recipe"]["sample_rate"] == 12000 and meta["mel_recipe"]["n_mels"] == 16
    assert meta["windower"] == {**meta["windower"], "n_windows": 3, "window_frames": 32}
    if network == "CRNN":
        assert meta["normalizer"]["scope"] == "track_band" and meta["normalizer"]["mean"] is None
    else:
        assert meta["normalizer"]["scope"] == "band" and len(meta["normalizer"]["mean"]) == 16
    assert meta["window_pooling"] == model[-1].module_.window_pooling


def test_exported_tagger_gives_tag_scores(rng, tmp_path):
    X, _ = make_separable(rng, n_tracks=24, n_mels=16, n_frames=64)
    tags = [("rock",) if i % 3 == 0 else ("rock", "live") if i % 3 == 1 else ("jazz",)
            for i in range(24)]
    model = make_tagging_pipeline(**TINY, **SHORT_CHUNK)
    model.fit(list(X), tags)
    path = export_onnx(model, tmp_path / "tags.onnx")
    tracks = _ragged(rng)
    scores = _session(path).run(["scores"], {"windows": model[:-1].transform(tracks)})[0]
    np.testing.assert_allclose(scores, model.predict_proba(tracks), atol=1e-4)
    meta = _metadata(path)
    assert meta["output"] == "sigmoid" and meta["classes"] == ["jazz", "live", "rock"]
    assert len(meta["normalizer"]["mean"]) == 16 and len(meta["thresholds"]) == 3


def test_export_errors_name_the_problem(rng, tmp_path):
    from sklearn_genre import make_baseline_pipeline

    X, y = make_separable(rng, n_tracks=20, n_mels=16, n_frames=64)
    with pytest.raises(ExportError, match="last step must be a CRNNClassifier"):
        export_onnx(make_baseline_pipeline().fit(list(X), y), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="must be fitted"):
        export_onnx(make_genre_pipeline(), tmp_path / "m.onnx")
    clf = make_genre_pipeline(**TINY, **SHORT_CHUNK).fit(list(X), y)[-1]
    with pytest.raises(ExportError, match="window_frames must be a positive int"):
        export_onnx(clf, tmp_path / "m.onnx")
    path = export_onnx(clf, tmp_path / "m.onnx", window_frames=32)  # windows given directly
    assert _metadata(path)["windower"] is None


def test_standalone_script_reproduces_predict_proba_from_audio(rng, tmp_path):
    """The documented script (numpy, librosa, onnxruntime; no sklearn_genre) gives the
    pipeline's probabilities for audio files of several lengths and sample rates."""
    soundfile = pytest.importorskip("soundfile")
    pytest.importorskip("librosa")

    def tone(seconds, freq, rate):
        t = np.arange(int(seconds * rate)) / rate
        noise = 0.01 * rng.normal(size=t.size)
        return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)

    train = [(tone(2.0, f, 22050), 22050) for f in (220, 260, 300, 1500, 1800, 2100) * 2]
    model = make_genre_pipeline(**TINY, **SHORT_CHUNK)
    model.fit(MelSpectrogram().transform(train), ["low"] * 3 + ["high"] * 3 + ["low"] * 3
              + ["high"] * 3)
    path = export_onnx(model, tmp_path / "genre.onnx")
    files = []
    for k, (seconds, freq, rate) in enumerate(((0.3, 240, 22050), (2.5, 1600, 44100),
                                               (6.0, 500, 12000))):
        files.append(tmp_path / f"clip{k}.wav")
        soundfile.write(files[-1], tone(seconds, freq, rate), rate)
    mel_file = tmp_path / "mel.npy"
    np.save(mel_file, MelSpectrogram().transform([str(files[1])])[0])
    result = subprocess.run([sys.executable, str(SCRIPT), str(path), *map(str, files),
                             str(mel_file)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    got = np.array([[row["scores"][c] for c in model.classes_] for row in rows])
    expected = model.predict_proba(MelSpectrogram().transform([str(f) for f in files]))
    np.testing.assert_allclose(got[:3], expected, atol=1e-4)
    np.testing.assert_allclose(got[3], expected[1], atol=1e-4)
    # the script needs no sklearn_genre: it never imports it
    assert "sklearn_genre" not in "".join(
        line for line in SCRIPT.read_text().splitlines() if "import" in line)
