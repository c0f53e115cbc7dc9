"""Predicting folders from the command line (as a user runs it), the model card, reports."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

soundfile = pytest.importorskip("soundfile")

import sklearn_genre  # noqa: E402
from sklearn_genre import MelSpectrogram, data_summary, make_genre_pipeline  # noqa: E402
from sklearn_genre._folder import Timings, find_files, predict_files  # noqa: E402
from sklearn_genre.cli import main  # noqa: E402

SMALL = dict(window__n_windows=2, window__window_frames=64, clf__train_crop_frames=None,
             clf__max_epochs=3, clf__batch_size=8, clf__module__hidden_size=8,
             clf__verbose=0, clf__random_state=0)
COMMAND = [sys.executable, "-m", "sklearn_genre"]


def _tone(seconds, freq, sample_rate=22050):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    tones = [(_tone(3.0, f), 22050) for f in (220, 250, 280, 1500, 1700, 1900) * 3]
    y = np.array(["low", "low", "low", "high", "high", "high"] * 3)
    model = make_genre_pipeline(**SMALL).fit(MelSpectrogram().transform(tones), y)
    path = tmp_path_factory.mktemp("model") / "genre.sgm"
    card = {"data": data_summary(y, collection="generated tones"),
            "scores": {"test_accuracy": 1.0}, "command": "pytest tests/test_folder.py"}
    return sklearn_genre.save(model, path, card=card)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """A folder as users have them: class folders, a nested album, a .npy mel, a corrupt
    file, and files that are not audio."""
    root = tmp_path_factory.mktemp("music")
    (root / "low" / "album").mkdir(parents=True)
    (root / "high").mkdir()
    soundfile.write(root / "low" / "a.wav", _tone(4.0, 230), 22050)
    soundfile.write(root / "low" / "album" / "b.flac", _tone(9.0, 260), 22050)
    soundfile.write(root / "high" / "c.wav", _tone(2.0, 1800), 22050)
    np.save(root / "high" / "d.npy", MelSpectrogram().transform([(_tone(3.0, 1600), 22050)])[0])
    (root / "high" / "broken.wav").write_bytes(b"RIFF garbage")
    (root / "high" / "notes.txt").write_text("not audio")
    (root / "high" / ".hidden.wav").write_bytes(b"RIFF")
    return root


def _run(*args, env=None):
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True,
                          env=env)


def test_find_files_searches_folders(music):
    found = [os.path.relpath(p, music) for p in find_files([music])]
    assert found == ["high/broken.wav", "high/c.wav", "high/d.npy", "low/a.wav",
                     "low/album/b.flac"]
    assert find_files([music / "nope.wav"]) == [str(music / "nope.wav")]  # reported later


def test_predict_folder_csv_with_progress_and_a_corrupt_file(model_path, music, tmp_path):
    out = tmp_path / "predictions.csv"
    result = _run("predict", model_path, music, "--format", "csv", "--top-k", "2",
                  "--output", out, "--progress", "--batch-size", "2")
    assert result.returncode == 1  # one file failed, the others were predicted
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.wav: cannot decode audio" in errors[0]
    assert "predicting" in result.stderr and "5/5" in result.stderr  # the progress bar
    table = pd.read_csv(out)
    assert list(table.columns) == ["file", "duration_seconds", "label_1", "probability_1",
                                   "label_2", "probability_2"]
    assert [os.path.relpath(f, music) for f in table.file] == [
        "high/c.wav", "high/d.npy", "low/a.wav", "low/album/b.flac"]
    assert set(table.label_1) <= {"low", "high"}
    np.testing.assert_allclose(table.probability_1 + table.probability_2, 1.0, atol=1e-3)
    assert table.duration_seconds.iloc[3] == pytest.approx(9.0, abs=0.05)


def test_predict_json_segments_and_csv_segments(model_path, music, capsys):
    files = [music / "low" / "album" / "b.flac", music / "high" / "c.wav"]
    assert main(["predict", str(model_path), *map(str, files), "--json", "--segments"]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # not a terminal: no progress bar
    first, second = json.loads(out)
    assert first["file"] == str(files[0]) and len(first["segments"]) > 5
    assert first["segments"][-1]["end"] == pytest.approx(first["duration_seconds"], abs=0.05)
    assert main(["predict", str(model_path), *map(str, files), "--format", "csv",
                 "--segments"]) == 0
    segments = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(segments.columns) == ["file", "start", "end", "label", "probability"]
    assert len(segments) == len(first["segments"]) + len(second["segments"])
    assert segments.start.iloc[0] == 0.0 and set(segments.file) == set(map(str, files))
    with pytest.raises(SystemExit):
        main(["predict", str(model_path), str(files[0]), "--json", "--format", "csv"])
    assert "--json asks for JSON output" in capsys.readouterr().err


def test_folder_prediction_matches_predict_proba(model_path, music):
    model = sklearn_genre.load(model_path)
    paths = find_files([music])
    timings = Timings()
    results = list(predict_files(model, paths, top_k=2, batch_size=3, timings=timings))
    assert [r.file for r in results] == paths and results[0].error is not None
    assert timings.n_files == 5 and timings.n_failed == 1 and timings.predict_seconds > 0
    good = [r for r in results if r.error is None]
    mels = [MelSpectrogram().transform([p])[0] if not p.endswith(".npy") else np.load(p)
            for p in paths[1:]]
    proba = model.predict_proba(mels)
    for result, row in zip(good, proba):
        assert result.top[0]["label"] == model.classes_[row.argmax()]
        assert result.top[0]["probability"] == pytest.approx(row.max(), abs=1e-4)


def test_info_prints_the_card(model_path, tmp_path):
    result = _run("info", model_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert text.startswith("# CRNNClassifier genre model")
    assert "generated tones" in text and "| low | 9 |" in text
    assert "pytest tests/test_folder.py" in text and "## Known limits" in text
    assert "clf__max_epochs | 3" in text



def test_info_without_a_card(model_path, tmp_path, capsys):
    import joblib

    model = sklearn_genre.load(model_path)
    joblib.dump(model, tmp_path / "genre.joblib")
    assert main(["info", str(tmp_path / "genre.joblib")]) == 1
    assert "no model card available" in capsys.readouterr().err
    bare = sklearn_genre.save(model, tmp_path / "bare.sgm", card=False)
    assert main(["info", str(bare), "--output", str(tmp_path / "README.md")]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "saved without a card" in text and "## Parameters" in text


def test_evaluate_writes_a_report(model_path, music, tmp_path):
    pytest.importorskip("matplotlib")
    labelled = tmp_path / "labelled"
    for label, freqs in (("low", (225, 270)), ("high", (1550, 1850))):
        (labelled / label).mkdir(parents=True)
        for freq in freqs:
            soundfile.write(labelled / label / f"{freq}.wav", _tone(3.0, freq), 22050)
    page = tmp_path / "report.html"
    env = {**os.environ, "SKLEARN_GENRE_DATA": str(tmp_path / "cache")}
    result = _run("evaluate", model_path, "--audio-dir", labelled, "--report", page, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "macro avg" in result.stdout and page.is_file()
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 2 and "4 tracks" in html
