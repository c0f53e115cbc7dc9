"""Check sklearn_genre's librosa mel recipe against Essentia running the dataset's recipe.

The reference follows MTG-Jamendo's ``scripts/melspectrograms.py`` (Essentia MonoLoader at
12 kHz with resampleQuality 4, Windowing hann, Spectrum, MelBands slaneyMel / unit_tri /
power, UnaryOperator lin2db scale 2, FrameGenerator centered). Needs ``essentia`` (PyPI:
``pip install --no-deps essentia``); renders a clip of the score corpus as real audio.

Usage::

    python benchmarks/check_recipe_essentia.py [--seconds 30] [--out results/recipe.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def essentia_mel(path):
    import essentia
    import essentia.standard as es

    audio = es.MonoLoader(filename=str(path), sampleRate=12000, resampleQuality=4)()
    windowing = es.Windowing(type="hann", normalized=False, zeroPadding=0)
    spectrum = es.Spectrum()
    melbands = es.MelBands(numberBands=96, sampleRate=12000, lowFrequencyBound=0,
                           highFrequencyBound=6000, inputSize=257, weighting="linear",
                           normalize="unit_tri", warpingFormula="slaneyMel", type="power")
    amp2db = es.UnaryOperator(type="lin2db", scale=2)
    pool = essentia.Pool()
    for frame in es.FrameGenerator(audio, frameSize=512, hopSize=256, startFromZero=False):
        pool.add("mel", amp2db(melbands(spectrum(windowing(frame)))))
    return audio, pool["mel"].T


def compare(reference, ours):
    loud = reference > reference.max() - 80
    diff = np.abs(reference - ours)
    return {"corr": float(np.corrcoef(reference.ravel(), ours.ravel())[0, 1]),
            "median_abs_db": float(np.median(diff)),
            "p95_abs_db_within_80db_of_peak": float(np.percentile(diff[loud], 95))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "recipe.json"))
    args = parser.parse_args(argv)
    try:
        import essentia  # noqa: F401
    except ImportError:
        print("essentia is not installed: pip install --no-deps essentia", file=sys.stderr)
        return 2
    import soundfile

    from sklearn_genre.audio import mel_spectrogram
    from sklearn_genre.datasets import score_catalogue
    from sklearn_genre.datasets._corpus import RENDER_RATE, ClipPlan, _note_events, _synthesize

    row = score_catalogue().query("label == 'jig' and status == 'ok'").iloc[0]
    plan = ClipPlan("jig", row.piece_id, row.location, 40, 1.0, 0.0, 0, args.seconds)
    waveform = _synthesize(_note_events(row.location), plan)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "clip.wav"
        soundfile.write(wav, waveform, RENDER_RATE)
        audio_12k, reference = essentia_mel(wav)
    ours = mel_spectrogram(waveform, RENDER_RATE)
    same_input = mel_spectrogram(np.asarray(audio_12k), 12000)
    results = {"frames_essentia": reference.shape[1], "frames_ours": ours.shape[1],
               "end_to_end": compare(reference, ours),
               "same_12k_input": compare(reference, same_input)}
    print(json.dumps(results, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
