"""Genre probabilities from an exported ONNX model, with numpy, librosa and onnxruntime only.

`sklearn_genre.export_onnx` writes the network (windows in, track scores out) and, in the
model's metadata, everything that comes before it: the mel recipe, the fitted normalization
and the windowing. This script redoes those steps without sklearn_genre:

    audio -> mono, 12 kHz -> mel power (96 Slaney bands, 0-6000 Hz) -> 20 log10(power)
          -> (trim) -> normalize -> windows (n_windows x window_frames) -> onnxruntime

Usage::

    python onnx_predict.py genre.onnx song.flac clip.mp3 mel.npy

It prints one JSON object per line: the file and its score per class (or tag).
"""

import argparse
import json
import sys

import librosa
import numpy as np


def read_metadata(session):
    """The exporter's metadata: every entry is a JSON string."""
    return {key: json.loads(value)
            for key, value in session.get_modelmeta().custom_metadata_map.items()}


def mel_spectrogram(path, recipe):
    """The mel-spectrogram (n_mels, n_frames) of an audio file in the model's recipe."""
    waveform, sample_rate = librosa.load(path, sr=None, mono=True)
    waveform = np.asarray(waveform, dtype=np.float32)
    if sample_rate != recipe["sample_rate"]:
        waveform = librosa.resample(waveform, orig_sr=sample_rate,
                                    target_sr=recipe["sample_rate"], res_type=recipe["resampler"])
    hop = recipe["hop_length"]
    n_frames = int(np.ceil(waveform.size / hop)) + 1  # the last partial hop gets a frame
    waveform = np.pad(waveform, (0, (n_frames - 1) * hop - waveform.size))
    power = librosa.feature.melspectrogram(
        y=waveform, sr=recipe["sample_rate"], n_fft=recipe["n_fft"], hop_length=hop,
        window=recipe["window"], center=recipe["center"], n_mels=recipe["n_mels"],
        fmin=recipe["f_min"], fmax=recipe["f_max"], htk=recipe["mel_scale"] == "htk",
        norm=recipe["mel_norm"], power=recipe["power"])
    return (20.0 * np.log10(np.maximum(power, 1e-10))).astype(np.float32)


def pad_frames(track, n_frames, mode, value, where="end"):
    """Extend a track (n_mels, n) to n_frames frames, as the library pads."""
    missing = n_frames - track.shape[1]
    if missing <= 0:
        return track
    before = missing // 2 if where == "center" else 0
    after = missing - before
    if mode == "constant":
        fill = float(track.min()) if value == "min" else float(value)
        return np.pad(track, ((0, 0), (before, after)), constant_values=fill)
    if mode == "reflect" and track.shape[1] == 1:
        mode = "edge"
    if mode == "reflect":  # mirror the track as many times as it takes
        out = track
        while out.shape[1] < n_frames:
            out = np.concatenate([out, out[:, ::-1]], axis=1)
        return np.roll(out, before, axis=1)[:, :n_frames] if before else out[:, :n_frames]
    return np.pad(track, ((0, 0), (before, after)), mode=mode)


def trim(track, settings):
    """Crop (and pad) to the trimmer's n_frames, when the pipeline had a trimmer."""
    n_frames, offset = settings["n_frames"], settings["offset"]
    length = track.shape[1]
    start = 0
    if length > n_frames:
        start = {"start": 0, "center": (length - n_frames) // 2,
                 "end": length - n_frames}.get(offset, None)
        if start is None:
            start = min(int(offset), length - n_frames)
    where = "center" if offset == "center" else "end"
    return pad_frames(track[:, start:start + n_frames], n_frames, settings["pad_mode"],
                      settings["pad_value"], where)


def normalize(track, settings):
    """Standardize a track with the fitted statistics or its own."""
    eps = settings["eps"]
    if settings["scope"] in ("band", "global"):
        mean = np.asarray(settings["mean"], dtype=np.float32)[:, None]
        scale = np.asarray(settings["scale"], dtype=np.float32)[:, None]
    elif settings["scope"] == "track":
        mean, scale = track.mean(), track.std()
    else:  # "track_band": each band of each track
        mean = track.mean(axis=1, keepdims=True)
        scale = track.std(axis=1, keepdims=True)
    scale = np.where(scale < eps, 1.0, scale).astype(np.float32)
    return (np.subtract(track, mean, dtype=np.float32) / scale).astype(np.float32)


def windows(track, settings):
    """Windows (n_windows, n_mels, window_frames) spread evenly over the track."""
    size = settings["window_frames"]
    track = pad_frames(track, size, settings["pad_mode"], settings["pad_value"])
    last = max(track.shape[1] - size, 0)
    starts = np.round(np.linspace(0, last, settings["n_windows"])).astype(np.int64)
    return np.stack([track[:, s:s + size] for s in starts]).astype(np.float32)


def predict(model_path, paths):
    """Return (classes, scores (n_files, n_classes)) of audio or .npy mel files."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = read_metadata(session)
    if meta["windower"] is None:
        sys.exit("this model was exported without a pipeline: give it windows yourself")
    batch = []
    for path in paths:
        mel = (np.load(path).astype(np.float32) if str(path).endswith(".npy")
               else mel_spectrogram(path, meta["mel_recipe"]))
        if meta["trimmer"] is not None:
            mel = trim(mel, meta["trimmer"])
        if meta["normalizer"] is not None:
            mel = normalize(mel, meta["normalizer"])
        batch.append(windows(mel, meta["windower"]))
    scores = session.run(["scores"], {"windows": np.stack(batch)})[0]
    return meta["classes"], scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model written by sklearn_genre.export_onnx")
    parser.add_argument("files", nargs="+", help="audio files or .npy mel-spectrograms")
    args = parser.parse_args(argv)
    classes, scores = predict(args.model, args.files)
    for path, row in zip(args.files, scores):
        print(json.dumps({"file": path, "scores": dict(zip(map(str, classes),
                                                           map(float, row)))}))


if __name__ == "__main__":
    main()
