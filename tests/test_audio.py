import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
librosa = pytest.importorskip("librosa")

from sklearn_genre import DataFileError, MelSpectrogram  # noqa: E402
from sklearn_genre.audio import FRAME_RATE, mel_spectrogram  # noqa: E402


def _tone(seconds, sample_rate, freq=440.0, amplitude=0.3):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_recipe_shape_scale_and_frames():
    mel = mel_spectrogram(_tone(30.0, 12000), 12000)
    assert mel.shape == (96, 1408) and mel.dtype == np.float32  # Essentia's frame count
    assert FRAME_RATE == pytest.approx(46.875)
    peak_band = int(np.argmax(mel[:, 700]))
    centers = librosa.mel_frequencies(n_mels=98, fmin=0, fmax=6000)[1:-1]
    assert abs(centers[peak_band] - 440) < 60  # the tone lands in the right band
    power = librosa.feature.melspectrogram(y=_tone(30.0, 12000), sr=12000, n_fft=512,
                                           hop_length=256, n_mels=96, fmax=6000)
    # the dataset's scale: 20 log10(power) (Essentia lin2db with scale=2)
    np.testing.assert_allclose(mel[peak_band, 700], 20 * np.log10(power[peak_band, 700]),
                               rtol=1e-4)


def test_resampling_and_stereo():
    mono = mel_spectrogram(_tone(2.0, 44100), 44100)
    stereo = mel_spectrogram(np.stack([_tone(2.0, 44100)] * 2), 44100)
    assert mono.shape == (96, 95)
    np.testing.assert_allclose(mono, stereo, atol=1e-3)


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_files_in_parallel_equal_serial(tmp_path, fmt):
    paths = []
    for k, freq in enumerate((220.0, 440.0, 880.0)):
        path = tmp_path / f"tone{k}.{fmt}"
        soundfile.write(path, _tone(3.0, 22050, freq), 22050)
        paths.append(str(path))
    serial = MelSpectrogram().fit_transform(paths)
    parallel = MelSpectrogram(n_jobs=2).transform(paths)
    assert [m.shape for m in serial] == [(96, 142)] * 3
    for a, b in zip(serial, parallel):
        # exact on any machine: the recipe runs its BLAS calls on one thread in the serial
        # run and in the worker processes alike (sklearn_genre.audio's docstring)
        np.testing.assert_array_equal(a, b)
    assert int(np.argmax(serial[2][:, 50])) > int(np.argmax(serial[0][:, 50]))


def test_waveform_pairs():
    out = MelSpectrogram().transform([(_tone(1.0, 16000), 16000)])
    assert out[0].shape == (96, 48)


def test_bad_files_are_named(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wave file")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 22050)
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros(22050, dtype=np.float32), 22050)
    cases = [(tmp_path / "missing.wav", "missing.wav: file not found"),
             (corrupt, "corrupt.wav: cannot decode audio"),
             (empty, "empty.wav: no audio samples"),
             (silent, "silent.wav: audio is silent")]
    for path, match in cases:
        with pytest.raises(DataFileError, match=match):
            MelSpectrogram().transform([str(path)])
    with pytest.raises(TypeError, match="wrap a single item in a list"):
        MelSpectrogram().transform(str(silent))
    with pytest.raises(ValueError, match="no audio files"):
        MelSpectrogram().transform([])
    with pytest.raises(DataFileError, match="NaN"):
        MelSpectrogram().transform([(np.full(100, np.nan), 12000)])
