"""A labelled music corpus rendered offline from music21's public-domain scores.

Classes come from real metadata, never invented: the dance type in the ABC rhythm
field (``R:``) of Ryan's Mammoth Collection (1883), plus two polyphonic styles,
J. S. Bach's four-part chorales and Palestrina's mass movements. Each clip is
rendered with a General-MIDI soundfont (pretty_midi's TimGM6mb) by tinysoundfont,
then turned into a mel-spectrogram with the MTG-Jamendo recipe
(:func:`sklearn_genre.audio.mel_spectrogram`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .._jobs import own_workers
from .._progress import progress, shows_progress
from ..audio import FRAME_RATE, HOP_LENGTH, N_MELS, SAMPLE_RATE, mel_spectrogram
from ..exceptions import DataFileError
from ._base import atomic_save_npy, get_data_home

__all__ = ["render_score_corpus", "score_catalogue", "INSTRUMENT_POOL", "DANCE_METRES"]

CORPUS_VERSION = 2  # 2: mels in the dataset's scale (20 log10 power), Essentia frame count
RENDER_RATE = 24000

#: General-MIDI programs of the one instrument pool shared by every class, so that
#: timbre never reveals the class.
INSTRUMENT_POOL = {
    0: "acoustic grand piano",
    6: "harpsichord",
    11: "vibraphone",
    19: "church organ",
    21: "accordion",
    24: "nylon guitar",
    40: "violin",
    42: "cello",
    48: "string ensemble",
    56: "trumpet",
    65: "alto sax",
    68: "oboe",
    71: "clarinet",
    73: "flute",
}

_DUPLE = frozenset({"2/4", "4/4", "C", "C|", "2/2"})
#: Metres consistent with each dance type; a tune whose ``M:`` contradicts its ``R:``
#: is dropped (and counted in ``DESCR``).
DANCE_METRES = {
    "reel": _DUPLE,
    "hornpipe": _DUPLE,
    "clog": _DUPLE,
    "strathspey": _DUPLE,
    "jig": frozenset({"6/8", "12/8"}),
    "slip jig": frozenset({"9/8"}),
}
_RHYTHM_ALIASES = {"slipjig": "slip jig"}

#: Typical duration in seconds of the most common note value of each class; the
#: tempo of a clip is set so that the piece's median note lasts about this long
#: (reels ~8 notes in a 1.1 s bar, jigs 6 in 0.9 s, ...), whatever the notation.
NOTE_SECONDS = {
    "reel": 0.135,
    "jig": 0.15,
    "slip jig": 0.15,
    "hornpipe": 0.175,
    "clog": 0.175,
    "strathspey": 0.2,
    "chorale": 0.7,
    "palestrina": 0.55,
}
TEMPO_JITTER = 0.08
MIN_PIECES = 30


def _ryans_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus" / "ryansMammoth"


def _header(text: str, field: str):
    match = re.search(rf"^{field}:\s*(.*?)\s*$", text, re.M)
    return match.group(1) if match else None


_METRE_FAMILIES = {
    "duple": {"2/4", "4/4", "C", "C|", "2/2", "4/2"},
    "compound": {"6/8", "9/8", "12/8", "6/4"},
    "triple": {"3/4", "3/2", "3/8"},
}


def metre_family(metre) -> str | None:
    """``"duple"``, ``"compound"`` or ``"triple"`` for a time signature, else None."""
    for family, metres in _METRE_FAMILIES.items():
        if metre in metres:
            return family
    return None


def abc_mode(key) -> str | None:
    """Mode of an ABC ``K:`` field: ``"major"``, ``"minor"`` or ``"modal"``."""
    if not key:
        return None
    match = re.match(r"^\s*[A-Ga-g][#b]?\s*([A-Za-z]*)", key)
    if not match:
        return None
    mode = match.group(1).lower()
    if mode in ("", "maj", "major", "ion", "ionian"):
        return "major"
    if mode in ("m", "min", "minor", "aeo", "aeolian"):
        return "minor"
    if mode[:3] in ("dor", "mix", "lyd", "phr", "loc"):
        return "modal"
    return None


def _musicxml_header(path: Path):
    """(metre, mode) from a MusicXML (.mxl/.xml) or Humdrum file, without parsing the score."""
    import zipfile

    if path.suffix == ".krn":
        return _humdrum_metre(path), None
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist()
                        if n.endswith((".xml", ".musicxml")) and not n.startswith("META"))
            xml = archive.read(name).decode("utf-8", "replace")
    else:
        xml = path.read_text(encoding="utf-8", errors="replace")
    beats = re.search(r"<beats>(\d+)</beats>\s*<beat-type>(\d+)</beat-type>", xml)
    mode = re.search(r"<mode>(\w+)</mode>", xml)
    return (f"{beats.group(1)}/{beats.group(2)}" if beats else None,
            mode.group(1).lower() if mode and mode.group(1).lower() in ("major", "minor")
            else None)


def _humdrum_metre(path: Path):
    match = re.search(r"^\*M(\d+/\d+)", path.read_text(encoding="latin-1"), re.M)
    return match.group(1) if match else None


def piece_tags(row) -> tuple:
    """Multi-label tags of a catalogue row: style, metre family, mode, texture."""
    tags = [row["label"], metre_family(row["metre"]), row.get("mode"), row["texture"]]
    return tuple(t for t in tags if isinstance(t, str) and t)


@functools.lru_cache(maxsize=1)
def _catalogue() -> pd.DataFrame:
    rows = []
    for path in sorted(_ryans_dir().glob("*.abc")):
        text = path.read_text(encoding="utf-8", errors="replace")
        rhythm = (_header(text, "R") or "").strip().lower()
        rhythm = _RHYTHM_ALIASES.get(rhythm, rhythm)
        metre = _header(text, "M")
        status = "ok"
        if rhythm not in DANCE_METRES:
            status = f"rhythm {rhythm or 'missing'!r} not a corpus class"
        elif metre not in DANCE_METRES[rhythm]:
            status = f"metre {metre} contradicts R: {rhythm}"
        key = _header(text, "K")
        rows.append({
            "piece_id": f"ryans/{path.stem}", "label": rhythm or None, "source": "ryansMammoth",
            "title": _header(text, "T"), "metre": metre, "key": key, "mode": abc_mode(key),
            "texture": "monophonic", "status": status, "location": str(path),
        })
    from music21 import corpus
    from music21.corpus import chorales

    for name in chorales.Iterator(returnType="filename"):
        try:
            work = corpus.getWork(name)
            work = work[0] if isinstance(work, list) else work
            metre, mode = _musicxml_header(Path(work))
        except (StopIteration, OSError, KeyError, ValueError, IndexError):
            metre, mode = None, None
        rows.append({"piece_id": name, "label": "chorale", "source": "bach chorales",
                     "title": name, "metre": metre, "key": None, "mode": mode,
                     "texture": "polyphonic", "status": "ok", "location": name})
    for path in sorted(corpus.getComposer("palestrina")):
        # Humdrum key tokens here do not encode the (modal) mode: no mode tag
        rows.append({"piece_id": f"palestrina/{path.stem}", "label": "palestrina",
                     "source": "palestrina", "title": path.stem,
                     "metre": _humdrum_metre(Path(path)), "key": None, "mode": None,
                     "texture": "polyphonic", "status": "ok", "location": str(path)})
    catalogue = pd.DataFrame(rows)
    catalogue["tags"] = [piece_tags(row) for _, row in catalogue.iterrows()]
    return catalogue


def score_catalogue() -> pd.DataFrame:
    """Return the catalogue of pieces the corpus can draw from, with their metadata.

    Returns
    -------
    catalogue : pandas.DataFrame
        One row per piece: ``piece_id``, ``label``, ``source``, ``title``, ``metre``,
        ``key``, ``mode``, ``texture``, ``tags`` (the multi-label tags: style, metre
        family, mode, texture) and ``status`` (``"ok"``, or why the piece is left out,
        e.g. a metre that contradicts the dance type).
    """
    return _catalogue().copy()


def default_classes(catalogue: pd.DataFrame) -> list[str]:
    """Classes with at least ``MIN_PIECES`` usable pieces, sorted."""
    counts = catalogue[catalogue.status == "ok"].label.value_counts()
    return sorted(counts[counts >= MIN_PIECES].index)


@dataclass(frozen=True)
class ClipPlan:
    """Everything that determines one rendered clip."""

    label: str
    piece_id: str
    location: str
    program: int
    tempo_factor: float
    start_fraction: float
    velocity_seed: int
    clip_seconds: float

    def key(self, versions: dict) -> str:
        payload = json.dumps({**asdict(self), "versions": versions,
                              "corpus_version": CORPUS_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _versions() -> dict:
    out = {}
    for dist in ("music21", "tinysoundfont", "librosa", "pretty_midi"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _soundfont() -> str:
    import pretty_midi

    return str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")


def _note_events(location: str):
    """Parse a score and return (offset_ql, duration_ql, midi_pitch) for every note."""
    from music21 import converter, corpus

    path = Path(location)
    score = converter.parse(path) if path.is_file() else corpus.parse(location)
    score = score.stripTies()
    events = []
    for element in score.flatten().notes:
        duration = float(element.quarterLength)
        if duration <= 0:  # grace notes
            continue
        pitches = element.pitches if element.isChord else [element.pitch]
        for pitch in pitches:
            events.append((float(element.offset), duration, int(pitch.midi)))
    if not events:
        raise ValueError("the score has no notes")
    return np.array(events, dtype=np.float64)


def _synthesize(events: np.ndarray, plan: ClipPlan) -> np.ndarray:
    """Render note events to a mono waveform at RENDER_RATE, looping the piece."""
    import tinysoundfont

    median_ql = float(np.median(events[:, 1]))
    seconds_per_ql = NOTE_SECONDS[plan.label] / median_ql * plan.tempo_factor
    piece_ql = float((events[:, 0] + events[:, 1]).max())
    start_ql = plan.start_fraction * piece_ql
    rng = np.random.default_rng(plan.velocity_seed)
    seconds = plan.clip_seconds
    messages = []
    n_loops = int(np.ceil((seconds / seconds_per_ql + start_ql) / piece_ql)) + 1
    for loop in range(n_loops):
        onset = (events[:, 0] + loop * piece_ql - start_ql) * seconds_per_ql
        offset = onset + events[:, 1] * seconds_per_ql * 0.95
        velocity = np.clip(rng.normal(85, 8, len(events)), 40, 127).astype(int)
        keep = (onset >= 0) & (onset < seconds)
        for t_on, t_off, pitch, vel in zip(onset[keep], offset[keep], events[keep, 2],
                                           velocity[keep]):
            messages.append((t_on, 1, int(pitch), int(vel)))
            messages.append((min(t_off, seconds), 0, int(pitch), 0))
    # note-offs before note-ons at the same time, so repeated notes re-strike
    messages.sort(key=lambda m: (m[0], m[1]))
    synth = tinysoundfont.Synth(samplerate=RENDER_RATE)
    sfid = synth.sfload(_soundfont())
    synth.program_select(0, sfid, 0, plan.program)
    n_total = int(round(seconds * RENDER_RATE))
    out = np.zeros(n_total, dtype=np.float32)
    position = 0
    for time_s, is_on, pitch, velocity in messages:
        target = min(int(round(time_s * RENDER_RATE)), n_total)
        if target > position:
            block = np.frombuffer(synth.generate(target - position), dtype=np.float32)
            out[position:target] = block.reshape(-1, 2).mean(axis=1)
            position = target
        if is_on:
            synth.noteon(0, pitch, velocity)
        else:
            synth.noteoff(0, pitch)
    if position < n_total:
        block = np.frombuffer(synth.generate(n_total - position), dtype=np.float32)
        out[position:] = block.reshape(-1, 2).mean(axis=1)
    rms = float(np.sqrt(np.mean(np.square(out))))
    if rms < 1e-6:
        raise ValueError("the rendering is silent")
    out *= 0.1 / rms  # loudness normalized to -20 dBFS RMS
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out *= 0.99 / peak
    return out


def expected_frames(clip_seconds: float) -> int:
    """Number of mel frames of a clip of ``clip_seconds`` seconds."""
    return int(np.ceil(int(round(clip_seconds * SAMPLE_RATE)) / HOP_LENGTH)) + 1


def render_clip(plan: ClipPlan) -> np.ndarray:
    """Render one clip to a mel-spectrogram (96, n_frames) in dB."""
    events = _note_events(plan.location)
    waveform = _synthesize(events, plan)
    return mel_spectrogram(waveform, RENDER_RATE)


def _cached_clip(plan: ClipPlan, cache_dir: Path, versions: dict):
    """Return (mel, error, rebuilt_corrupt) for one clip, from the cache or rendered."""
    path = cache_dir / f"{plan.key(versions)}.npy"
    n_frames = expected_frames(plan.clip_seconds)
    corrupt = False
    if path.exists():
        try:
            mel = np.load(path, allow_pickle=False)
            if mel.shape == (N_MELS, n_frames) and mel.dtype == np.float32 and \
                    np.isfinite(mel).all():
                return mel, None, False
        except (ValueError, OSError, EOFError):
            pass
        corrupt = True
    try:
        mel = render_clip(plan)
    except Exception as exc:  # noqa: BLE001 - reported per piece, never silently
        return None, f"{type(exc).__name__}: {exc}", corrupt
    atomic_save_npy(path, mel)
    return mel, None, corrupt


def _plan(catalogue, classes, n_per_class, clip_seconds, instruments, rng):
    plans = {}
    for label in classes:
        pieces = catalogue[(catalogue.label == label) & (catalogue.status == "ok")]
        if pieces.empty:
            raise ValueError(
                f"class {label!r} has no usable pieces; available: "
                f"{sorted(catalogue[catalogue.status == 'ok'].label.unique())}."
            )
        order = rng.permutation(len(pieces))
        rows = [pieces.iloc[i] for i in order]
        class_plans = []
        for i in range(n_per_class):
            row = rows[i % len(rows)]
            class_plans.append(ClipPlan(
                label=label, piece_id=row.piece_id, location=row.location,
                program=int(rng.choice(instruments)),
                tempo_factor=float(rng.uniform(1 - TEMPO_JITTER, 1 + TEMPO_JITTER)),
                start_fraction=float(rng.uniform(0, 1)),
                velocity_seed=int(rng.integers(2**31)), clip_seconds=float(clip_seconds)))
        plans[label] = (class_plans, rows)
    return plans


def render_score_corpus(
    *,
    classes=None,
    n_per_class: int = 60,
    clip_seconds: float = 30.0,
    instruments=None,
    data_home=None,
    n_jobs=None,
    random_state=0,
    verbose: bool = True,
):
    """Render a labelled corpus of music clips from public-domain scores.

    Parameters
    ----------
    classes : list of str or None, default=None
        Labels to include. None takes every class with at least 30 usable pieces:
        ``chorale``, ``clog``, ``hornpipe``, ``jig``, ``palestrina``, ``reel``,
        ``strathspey`` (``slip jig`` has only 17 tunes and is left out unless asked).
    n_per_class : int, default=60
        Clips per class. When a class has fewer pieces than clips, pieces are reused
        with another instrument, tempo and start; ``groups`` keeps them together.
    clip_seconds : float, default=30.0
        Length of every clip.
    instruments : list of int or None, default=None
        General-MIDI programs to draw from (one per clip); None is ``INSTRUMENT_POOL``,
        shared by all classes.
    data_home : str or path-like or None
        Cache folder (see :func:`sklearn_genre.datasets.get_data_home`). Clips are
        cached one file each, keyed by everything that changes them (plan, package
        versions), written atomically; a corrupt entry is detected and re-rendered.
    n_jobs : int or None, default=None
        Parallel rendering processes (joblib); None is 1, -1 is all cores.
    random_state : int, default=0
        Seeds the choice of pieces, instruments, tempi, start points and dynamics.
    verbose : bool or None, default=True
        Print what is rendered and show a progress bar on standard error (None: only
        on a terminal); False is silent.

    Returns
    -------
    corpus : sklearn.utils.Bunch
        ``data``: list of ``np.ndarray [shape=(96, n_frames), dtype=float32]``;
        ``target``: ``np.ndarray [shape=(n_clips,)]`` of label strings;
        ``tags``: the multi-label target, one tuple per clip of real score metadata
        (style, metre family ``duple``/``compound``/``triple`` from ``M:`` or the
        score's time signature, mode ``major``/``minor``/``modal`` from ``K:`` or
        MusicXML, texture ``monophonic``/``polyphonic``);
        ``groups``: piece id of every clip, for group-disjoint splits;
        ``track_ids``; ``instruments``: the General-MIDI program of every clip;
        ``frame_rate`` (46.875); ``metadata``: a DataFrame of every clip's plan;
        ``failures``: pieces that failed to render (replaced by other pieces of
        their class); ``DESCR``.

    Examples
    --------
    >>> from sklearn_genre.datasets import render_score_corpus
    >>> corpus = render_score_corpus(classes=["jig", "reel"], n_per_class=2,
    ...                              clip_seconds=5.0, verbose=False)  # doctest: +SKIP
    >>> corpus.data[0].shape, sorted(set(corpus.target))  # doctest: +SKIP
    ((96, 236), ['jig', 'reel'])
    """
    from joblib import Parallel, delayed

    if not isinstance(n_per_class, int | np.integer) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}.")
    if not clip_seconds > 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds!r}.")
    started = time.perf_counter()
    catalogue = score_catalogue()
    if classes is None:
        classes = default_classes(catalogue)
    classes = sorted(set(classes))
    pool = list(INSTRUMENT_POOL) if instruments is None else [int(p) for p in instruments]
    if not pool or any(not 0 <= p < 128 for p in pool):
        raise ValueError(f"instruments must be General-MIDI programs 0-127, got {instruments}.")
    rng = check_random_state(random_state)
    rng = np.random.default_rng(rng.randint(2**31))
    plans = _plan(catalogue, classes, n_per_class, clip_seconds, pool, rng)
    versions = _versions()
    cache_dir = get_data_home(data_home) / "score_corpus" / f"v{CORPUS_VERSION}"
    cache_dir.mkdir(parents=True, exist_ok=True)

    todo = [plan for class_plans, _ in plans.values() for plan in class_plans]
    results: dict[ClipPlan, np.ndarray] = {}
    failures: list[tuple[str, str]] = []
    n_corrupt = 0
    # replacements for pieces that fail: the class's pieces after the last one used
    spare = {label: rows[n_per_class % len(rows):] + rows[:n_per_class % len(rows)]
             for label, (_, rows) in plans.items()}
    failed_pieces: set[str] = set()
    log = print if verbose or (verbose is None and shows_progress(None)) else \
        (lambda *a, **k: None)
    log(f"score corpus: {len(todo)} clips of {clip_seconds:g} s, {len(classes)} classes, "
        f"cache {cache_dir}", file=sys.stderr)
    while todo:
        with own_workers(n_jobs):  # the next parallel fits get fresh workers
            parallel = Parallel(n_jobs=n_jobs, return_as="generator")  # reads the config
            outputs = parallel(delayed(_cached_clip)(plan, cache_dir, versions)
                               for plan in todo)
        retry = []
        rendered = progress(zip(todo, outputs), total=len(todo), desc="score corpus",
                            unit="clip", verbose=verbose)
        for plan, (mel, error, corrupt) in rendered:
            n_corrupt += corrupt
            if mel is not None:
                results[plan] = mel
            else:
                failures.append((plan.piece_id, error))
                failed_pieces.add(plan.piece_id)
                candidates = [r for r in spare[plan.label] if r.piece_id not in failed_pieces]
                if not candidates:
                    raise DataFileError(
                        f"class {plan.label!r}: no piece left to replace {plan.piece_id}, "
                        f"which failed to render ({error})."
                    )
                row = candidates[0]
                spare[plan.label].append(spare[plan.label].pop(spare[plan.label].index(row)))
                retry.append(ClipPlan(**{**asdict(plan), "piece_id": row.piece_id,
                                         "location": row.location}))
        log(f"  {len(todo) - len(retry)} clips ready ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr)
        todo = retry
    if failures:
        warnings.warn(
            f"{len(failures)} pieces failed to render and were replaced by other pieces of "
            f"their class: {failures[:5]}{' ...' if len(failures) > 5 else ''}",
            stacklevel=2,
        )
    if n_corrupt:
        warnings.warn(f"{n_corrupt} corrupt cache entries were re-rendered.", stacklevel=2)

    ordered = sorted(results, key=lambda p: (p.label, p.piece_id, p.velocity_seed))
    piece_tag = dict(zip(catalogue.piece_id, catalogue.tags))
    meta = pd.DataFrame([asdict(p) for p in ordered]).drop(columns=["location"])
    meta["tags"] = [piece_tag[p.piece_id] for p in ordered]
    meta["instrument"] = meta.program.map(INSTRUMENT_POOL).fillna("GM program")
    meta["track_id"] = [f"{p.label}/{p.piece_id}/{i}" for i, p in enumerate(ordered)]
    dropped = catalogue[catalogue.status.str.startswith("metre")]
    descr = _DESCR.format(
        n_clips=len(ordered), classes=", ".join(classes), clip_seconds=clip_seconds,
        counts=", ".join(f"{k}: {v}" for k, v in meta.label.value_counts().sort_index().items()),
        n_groups=meta.piece_id.nunique(), n_dropped=len(dropped),
        n_failures=len(failures), seconds=time.perf_counter() - started,
    )
    return Bunch(
        data=[results[p] for p in ordered],
        target=meta.label.to_numpy(dtype=object),
        tags=list(meta.tags),
        groups=meta.piece_id.to_numpy(dtype=object),
        track_ids=meta.track_id.to_numpy(dtype=object),
        instruments=meta.program.to_numpy(),
        frame_rate=FRAME_RATE,
        metadata=meta,
        failures=failures,
        DESCR=descr,
    )


_DESCR = """Score corpus: music rendered from music21's public-domain scores
=====================================================================

{n_clips} clips of {clip_seconds:g} s in {n_groups} distinct pieces (groups); classes: {classes}.
Clips per class: {counts}.

Labels are real metadata: the ABC rhythm field (R:) of Ryan's Mammoth Collection (1883) for
the dance types; J. S. Bach's chorales and Palestrina's mass movements (music21 corpus) for
the two polyphonic styles. {n_dropped} tunes whose metre (M:) contradicts their R: are left out
of every class. {n_failures} pieces failed to render and were replaced.

Each clip: one General-MIDI instrument drawn from a pool shared by all classes, a tempo typical
of its class (+-8 %), a random start in the piece (looped), loudness normalized to -20 dBFS,
rendered at 24 kHz by tinysoundfont with pretty_midi's TimGM6mb soundfont, then 12 kHz mono
mel-spectrograms by the MTG-Jamendo recipe (96 bands, frame 512, hop 256, dB).

Use `groups` for group-disjoint splits: clips of one piece must not sit in train and test.
Built (or read from cache) in {seconds:.1f} s.
"""
