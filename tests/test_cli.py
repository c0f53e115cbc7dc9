import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from sklearn_genre import MelSpectrogram, genre_timeline, make_genre_pipeline  # noqa: E402
from sklearn_genre.cli import main  # noqa: E402

from .test_mtg import TRAIN_TSV, _write_dump  # noqa: E402

SMALL = dict(window__n_windows=2, window__window_frames=64, clf__train_crop_frames=None,
             clf__max_epochs=3, clf__batch_size=8, clf__verbose=0, clf__random_state=0)


def _tone(seconds, freq, sample_rate=22050):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    tones = [(_tone(3.0, f), 22050) for f in (220, 250, 280, 1500, 1700, 1900) * 3]
    mels = MelSpectrogram().transform(tones)
    y = np.array(["low", "low", "low", "high", "high", "high"] * 3)
    model = make_genre_pipeline(**SMALL).fit(mels, y)
    path = tmp_path_factory.mktemp("model") / "genre.joblib"
    joblib.dump(model, path)
    return path


@pytest.fixture
def audio_files(tmp_path):
    good = tmp_path / "low.wav"
    soundfile.write(good, _tone(20.0, 230), 22050)
    corrupt = tmp_path / "broken.wav"
    corrupt.write_bytes(b"RIFF garbage")
    silent = tmp_path / "silent.flac"
    soundfile.write(silent, np.zeros(22050, dtype=np.float32), 22050)
    return good, corrupt, silent


def test_predict_top_k_and_bad_files(model_path, audio_files, capsys):
    good, corrupt, silent = audio_files
    code = main(["predict", str(model_path), str(good), str(corrupt), str(silent),
                 "--top-k", "2"])
    out, err = capsys.readouterr()
    assert code == 1  # some files failed, the others were still processed
    assert out.startswith(f"{good}: ") and len(out.strip().splitlines()) == 1
    assert out.count(" 0.") + out.count(" 1.00") == 2  # two labels with probabilities
    assert "broken.wav: cannot decode audio" in err and "silent.flac: audio is silent" in err
    assert len(err.strip().splitlines()) == 2


def test_predict_json_segments_and_npy(model_path, audio_files, tmp_path, capsys):
    good, _, _ = audio_files
    mel_file = tmp_path / "track.npy"
    np.save(mel_file, MelSpectrogram().transform([str(good)])[0])
    code = main(["predict", str(model_path), str(good), str(mel_file), "--json",
                 "--segments"])
    results = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["file"] for r in results] == [str(good), str(mel_file)]
    first = results[0]
    assert abs(sum(t["probability"] for t in first["top"]) - 1.0) < 1e-3
    segments = first["segments"]
    assert len(segments) > 5 and segments[0]["start"] == 0.0
    assert segments[-1]["end"] == pytest.approx(first["duration_seconds"], abs=0.05)
    assert results[1]["top"] == first["top"]  # the .npy holds the same mel


def test_genre_timeline_covers_long_and_short_tracks(model_path):
    model = joblib.load(model_path)
    long_track = np.random.default_rng(0).normal(-60, 10, (96, 1000)).astype(np.float32)
    short_track = long_track[:, :20]
    long_tl, short_tl = genre_timeline(model, [long_track, short_track], hop_frames=32)
    assert list(long_tl.columns) == ["start", "end", "high", "low"]
    assert len(long_tl) == int(np.ceil((1000 - 64) / 32)) + 1
    assert long_tl.start.is_monotonic_increasing
    np.testing.assert_allclose(long_tl[["high", "low"]].sum(axis=1), 1.0)
    assert len(short_tl) == 1 and short_tl.end[0] == pytest.approx(20 / 46.875)
    with pytest.raises(ValueError, match="MelWindower"):
        genre_timeline(model[-1:], [long_track])


def test_train_and_evaluate_on_mtg_layout(tmp_path, rng, capsys):
    mel_dir = tmp_path / "mels"
    _write_dump([TRAIN_TSV], mel_dir, rng)
    out = tmp_path / "mtg.sgm"  # the safe format
    code = main(["train", "--tsv", str(TRAIN_TSV), "--mel-dir", str(mel_dir), "--out",
                 str(out), "--classes", "2", "--max-epochs", "1"])
    assert code == 0 and out.stat().st_size > 0
    assert not list(tmp_path.glob(".mtg.sgm.*"))  # atomic: no temporary left
    code = main(["evaluate", str(out), "--tsv", str(TRAIN_TSV), "--mel-dir", str(mel_dir)])
    report = capsys.readouterr().out
    assert code == 0 and "precision" in report and "macro avg" in report


def test_errors_exit_2_with_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nope.joblib"), "x.wav"]) == 2
    assert "model file not found" in capsys.readouterr().err
    code = main(["train", "--tsv", str(tmp_path / "missing.tsv"), "--mel-dir", str(tmp_path),
                 "--out", str(tmp_path / "m.joblib")])
    assert code == 2 and "metadata file not found" in capsys.readouterr().err


def test_module_entry_point(model_path, audio_files):
    good, _, _ = audio_files
    result = subprocess.run([sys.executable, "-m", "sklearn_genre", "predict",
                             str(model_path), str(good)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(good))


def test_train_audio_dir_then_evaluate_gtzan_test_part(tmp_path):
    from .test_collections import GTZAN_CLIPS, _gtzan

    root = _gtzan(tmp_path / "gtzan", "genres_original", "wav")  # class folders, GTZAN names
    model = tmp_path / "genre.sgm"
    env = {**os.environ, "SKLEARN_GENRE_DATA": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "sklearn_genre"]
    trained = subprocess.run(command + ["train", "--audio-dir", str(root / "genres_original"),
                                        "--out", str(model), "--max-epochs", "1"],
                             capture_output=True, text=True, env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "audio folder genres_original" in trained.stderr  # progress, then the summary
    assert f"{len(GTZAN_CLIPS)} tracks in 2 classes" in trained.stderr
    scored = subprocess.run(command + ["evaluate", str(model), "--gtzan", str(root)],
                            capture_output=True, text=True, env=env)
    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "fault-filtered split" in scored.stderr and "the test part: 2 tracks" in scored.stderr
    report = scored.stdout
    assert "blues" in report and "classical" in report and "macro avg" in report
    n_test = sum(part == "test" for part in GTZAN_CLIPS.values())
    assert report.split("macro avg")[1].split()[-1] == str(n_test)  # support: the test part


def test_train_gtzan_and_data_source_errors(tmp_path, capsys):
    from .test_collections import _gtzan

    root = _gtzan(tmp_path / "gtzan")
    out = tmp_path / "genre.joblib"
    with pytest.warns(UserWarning, match="922 missing"):  # a partial copy: 8 of the clips
        code = main(["train", "--gtzan", str(root), "--out", str(out), "--max-epochs", "1",
                     "--data-home", str(tmp_path / "cache")])
    assert code == 0 and out.is_file()
    assert "Using the train and validation parts: 6 tracks" in capsys.readouterr().err
    for argv, message in [
            (["train", "--audio-dir", str(root), "--tsv", "t.tsv", "--out", "m"], "exactly one"),
            (["train", "--out", "m"], "exactly one data source"),
            (["evaluate", str(out), "--tsv", "t.tsv"], "--tsv and --mel-dir go together")]:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err
    assert main(["train", "--audio-dir", str(tmp_path / "none"), "--out", "m"]) == 2
    assert "does not exist; expected one sub-folder per class" in capsys.readouterr().err
