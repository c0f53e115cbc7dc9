"""A labelled music corpus rendered offline from music21's public-domain scores.

Classes come from real metadata, never invented: the dance type in the ABC rhythm
field (``R:``) of Ryan's Mammoth Collection (1883), plus two polyphonic styles,
J. S. Bach's four-part chorales and Palestrina's mass movements (:mod:`._scores`).
Each clip is rendered with a General-MIDI soundfont by tinysoundfont
(:mod:`._soundfonts`), optionally through recording and mix effects
(:mod:`sklearn_genre.effects`), then turned into a mel-spectrogram with the MTG-Jamendo
recipe (:func:`sklearn_genre.audio.mel_spectrogram`).

Instrumentation
---------------
``instrumentation="shared"`` draws every clip's instrument from one pool shared by all
classes (:data:`INSTRUMENT_POOL`), so only rhythm, melody and texture tell classes
apart. ``instrumentation="genre"`` draws it from a distribution typical of the class
(:data:`GENRE_INSTRUMENTS`, weights in parentheses), as real genres differ in timbre too;
the tables overlap so that no instrument identifies a class alone (every instrument
belongs to at least two classes):

=============  ==============================================================================
class          General-MIDI programs (weight)
=============  ==============================================================================
reel           fiddle 110 (5), flute 73 (3), accordion 21 (3), whistle 78 (2), banjo 105 (2),
               violin 40 (2), bagpipe 109 (1), piano 0 (1), nylon guitar 24 (1), steel guitar
               25 (1), harmonica 22 (1), harp 46 (1)
jig            fiddle (4), flute (3), whistle (3), accordion (2), steel guitar (2), violin (2),
               piano (1), nylon guitar (1), banjo (1), bagpipe (1), harp (1)
slip jig       as jig
hornpipe       fiddle (4), accordion (3), flute (2), violin (2), piano (2), whistle (1),
               banjo (1), harmonica (1), steel guitar (1), bagpipe (1), harp (1)
clog           fiddle (4), banjo (2), harmonica (2), accordion (2), violin (2), steel guitar
               (2), piano (1), flute (1), clarinet 71 (1)
strathspey     fiddle (5), bagpipe (3), accordion (2), piano (2), violin (2), flute (1),
               harp (1), nylon guitar (1)
chorale        church organ 19 (6), choir aahs 52 (4), string ensemble 48 (3), voice oohs 53
               (2), strings 2 49 (2), brass section 61 (2), piano (2), trombone 57 (1),
               harpsichord 6 (1), reed organ 20 (1), oboe 68 (1), flute (1), violin (1),
               cello 42 (1), recorder 74 (1), nylon guitar (1), clarinet (1), accordion (1)
palestrina     choir aahs (6), voice oohs (4), church organ (3), recorder (3), string
               ensemble (2), trombone (2), strings 2 (1), reed organ (1), cello (1), brass
               section (1), oboe (1), harp (1), harpsichord (1), flute (1), piano (1)
=============  ==============================================================================

Variations
----------
:class:`ClipVariation` renders the same planned clips (same pieces, starts, dynamics,
instruments, soundfonts and effects) with one thing changed: tempo, transposition, added
noise at a given SNR, an EQ tilt, a soundfont or an instrument pool. The plan is drawn
before the variation is applied, so ``render_score_corpus(..., variation=v)`` returns the
clips of ``render_score_corpus(...)`` changed by ``v``, and ``pieces=`` selects some of
them (a test set) without rendering the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, fields, replace
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .._jobs import own_workers
from .._progress import progress, shows_progress
from ..audio import FRAME_RATE, HOP_LENGTH, N_MELS, SAMPLE_RATE, mel_spectrogram
from ..effects import ClipEffects, EffectRanges, add_noise, apply_effects, equalize, limit_peak
from ..exceptions import DataFileError
from ._base import atomic_save_npy, get_data_home
from ._scores import (  # noqa: F401 - re-exported for the benchmarks and tests
    DANCE_METRES,
    MIN_PIECES,
    abc_mode,
    default_classes,
    events_cache_dir,
    metre_family,
    note_events,
    parse_note_events,
    piece_tags,
    score_catalogue,
)
from ._soundfonts import (
    bundled_soundfont,
    loaded_soundfont,
    resolve_soundfonts,
    soundfont_identity,
    synthesize_events,
)

__all__ = ["render_score_corpus", "score_catalogue", "ClipVariation", "INSTRUMENT_POOL",
           "GENRE_INSTRUMENTS", "DANCE_METRES"]

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

#: Names of the General-MIDI programs the corpus uses.
PROGRAM_NAMES = {
    **INSTRUMENT_POOL,
    20: "reed organ", 22: "harmonica", 25: "steel guitar", 46: "harp", 49: "strings 2",
    52: "choir aahs", 53: "voice oohs", 57: "trombone", 61: "brass section", 74: "recorder",
    78: "whistle", 105: "banjo", 109: "bagpipe", 110: "fiddle",
}

_JIG = {110: 4, 73: 3, 78: 3, 21: 2, 25: 2, 40: 2, 0: 1, 24: 1, 105: 1, 109: 1, 46: 1}
#: Class-typical instruments of ``instrumentation="genre"``: General-MIDI program ->
#: relative weight (table in the module docstring). Tables overlap: every program
#: belongs to at least two classes.
GENRE_INSTRUMENTS = {
    "reel": {110: 5, 73: 3, 21: 3, 78: 2, 105: 2, 40: 2, 109: 1, 0: 1, 24: 1, 25: 1, 22: 1,
             46: 1},
    "jig": _JIG,
    "slip jig": dict(_JIG),
    "hornpipe": {110: 4, 21: 3, 73: 2, 40: 2, 0: 2, 78: 1, 105: 1, 22: 1, 25: 1, 109: 1,
                 46: 1},
    "clog": {110: 4, 105: 2, 22: 2, 21: 2, 40: 2, 25: 2, 0: 1, 73: 1, 71: 1},
    "strathspey": {110: 5, 109: 3, 21: 2, 0: 2, 40: 2, 73: 1, 46: 1, 24: 1},
    "chorale": {19: 6, 52: 4, 48: 3, 53: 2, 49: 2, 61: 2, 0: 2, 57: 1, 6: 1, 20: 1, 68: 1,
                73: 1, 40: 1, 42: 1, 74: 1, 24: 1, 71: 1, 21: 1},
    "palestrina": {52: 6, 53: 4, 19: 3, 74: 3, 48: 2, 57: 2, 49: 1, 20: 1, 42: 1, 61: 1,
                   68: 1, 46: 1, 6: 1, 73: 1, 0: 1},
}
INSTRUMENTATIONS = ("shared", "genre")
DYNAMICS = ("flat", "metrical")

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

# Per-clip random streams of the draws beyond the main plan (soundfont, effects,
# variations): seeded by the clip's velocity seed, so adding one never moves
# the pieces, instruments, tempi or starts drawn from the main stream.
_SOUNDFONT_STREAM, _EFFECTS_STREAM, _PROGRAM_STREAM, _NOISE_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class ClipVariation:
    """One change applied to every planned clip, the rest of the plan kept.

    Attributes
    ----------
    tempo : float, default=1.0
        Playback speed factor: 1.08 plays 8 % faster, 0.85 15 % slower.
    transpose : int, default=0
        Semitones added to every pitch (-24 to 24).
    snr_db : float or None, default=None
        White noise added last (after any effects), at this signal-to-noise ratio over
        the clip, in the analysed band (0-6 kHz at 12 kHz).
    tilt_db_per_octave : float, default=0.0
        An EQ tilt around 1 kHz, after any effects (:func:`sklearn_genre.effects.equalize`).
    soundfont : str or None, default=None
        Render every clip with this soundfont file.
    instruments : tuple of int or None, default=None
        Redraw every clip's General-MIDI program from these (with
        ``instrumentation="genre"``, from the class's table restricted to them).
    """

    tempo: float = 1.0
    transpose: int = 0
    snr_db: float | None = None
    tilt_db_per_octave: float = 0.0
    soundfont: str | None = None
    instruments: tuple | None = None

    def __post_init__(self):
        if not (isinstance(self.tempo, int | float) and 0.25 <= self.tempo <= 4):
            raise ValueError(f"ClipVariation.tempo must be a speed factor in [0.25, 4], "
                             f"got {self.tempo!r}.")
        if not isinstance(self.transpose, int | np.integer) or abs(self.transpose) > 24:
            raise ValueError(f"ClipVariation.transpose must be an integer number of "
                             f"semitones in [-24, 24], got {self.transpose!r}.")
        if self.snr_db is not None and not (isinstance(self.snr_db, int | float)
                                            and math.isfinite(self.snr_db)):
            raise ValueError(f"ClipVariation.snr_db must be a finite number of dB or None, "
                             f"got {self.snr_db!r}.")
        if not (isinstance(self.tilt_db_per_octave, int | float)
                and abs(self.tilt_db_per_octave) <= 6):
            raise ValueError(f"ClipVariation.tilt_db_per_octave must be in [-6, 6] dB per "
                             f"octave, got {self.tilt_db_per_octave!r}.")
        if self.instruments is not None:
            programs = tuple(int(p) for p in self.instruments)
            if not programs or any(not 0 <= p < 128 for p in programs):
                raise ValueError(f"ClipVariation.instruments must be General-MIDI programs "
                                 f"0-127, got {self.instruments!r}.")
            object.__setattr__(self, "instruments", programs)
        object.__setattr__(self, "transpose", int(self.transpose))


@dataclass(frozen=True)
class ClipPlan:
    """Everything that determines one rendered clip.

    At their defaults, the fields after ``clip_seconds`` change neither the clip nor its
    cache key: clips without soundfonts, effects or variations share their entries.
    """

    label: str
    piece_id: str
    location: str
    program: int
    tempo_factor: float
    start_fraction: float
    velocity_seed: int
    clip_seconds: float
    soundfont: str | None = None  # None: the bundled TimGM6mb
    transposition: int = 0  # semitones
    effects: ClipEffects | None = None
    snr_db: float | None = None
    tilt_db_per_octave: float = 0.0
    metrical_dynamics: bool = False  # velocities follow the notated metre

    def key(self, versions: dict) -> str:
        """The clip's cache key: every field that changes it, package versions."""
        payload = asdict(self)
        for field in fields(self)[8:]:
            if payload[field.name] == field.default:
                del payload[field.name]
        if "soundfont" in payload:
            payload["soundfont"] = soundfont_identity(self.soundfont)
        versions = dict(versions)
        if self.effects is not None or self.snr_db is not None or self.tilt_db_per_octave:
            versions.update(_versions(("numpy", "scipy")))
        payload = json.dumps({**payload, "versions": versions,
                              "corpus_version": CORPUS_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    @property
    def processed(self) -> bool:
        """Whether the clip goes through effects, noise or EQ after synthesis."""
        return self.effects is not None or self.snr_db is not None or \
            self.tilt_db_per_octave != 0


def _versions(dists=("music21", "tinysoundfont", "librosa", "pretty_midi")) -> dict:
    out = {}
    for dist in dists:
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _soundfont() -> str:
    return bundled_soundfont()


def _note_events(location: str):
    """Parse a score and return (offset_ql, duration_ql, midi_pitch) for every note."""
    return parse_note_events(location)


def _seconds_per_ql(events: np.ndarray, plan: ClipPlan) -> float:
    median_ql = float(np.median(events[:, 1]))
    return NOTE_SECONDS[plan.label] / median_ql * plan.tempo_factor


def _synthesize(events: np.ndarray, plan: ClipPlan) -> np.ndarray:
    """Render note events to a mono waveform at RENDER_RATE, looping the piece."""
    piece_ql = float((events[:, 0] + events[:, 1]).max())
    return synthesize_events(
        events if plan.metrical_dynamics else events[:, :3], program=plan.program,
        soundfont=plan.soundfont or bundled_soundfont(),
        seconds_per_ql=_seconds_per_ql(events, plan), start_ql=plan.start_fraction * piece_ql,
        clip_seconds=plan.clip_seconds, velocity_seed=plan.velocity_seed,
        transpose=plan.transposition, sample_rate=RENDER_RATE)


def expected_frames(clip_seconds: float) -> int:
    """Number of mel frames of a clip of ``clip_seconds`` seconds."""
    return int(np.ceil(int(round(clip_seconds * SAMPLE_RATE)) / HOP_LENGTH)) + 1


def render_waveform(plan: ClipPlan, events_dir=None) -> tuple[np.ndarray, int]:
    """Render one clip to a waveform: ``(samples, sample_rate)``.

    Clean clips stay at the render rate (24 kHz). Clips with effects, noise or EQ are
    resampled to the mel recipe's 12 kHz first, so that noise and EQ act on the band
    the mel-spectrogram sees.
    """
    events = note_events(plan.piece_id, plan.location, events_dir)
    waveform = _synthesize(events, plan)
    if not plan.processed:
        return waveform, RENDER_RATE
    import librosa

    # the resampling mel_spectrogram would do, done before the effects
    y = librosa.resample(waveform, orig_sr=RENDER_RATE, target_sr=SAMPLE_RATE,
                         res_type="soxr_hq")
    if plan.effects is not None:
        y = apply_effects(y, SAMPLE_RATE, plan.effects)
    if plan.tilt_db_per_octave:
        y = equalize(y, SAMPLE_RATE, tilt_db_per_octave=plan.tilt_db_per_octave)
    if plan.snr_db is not None:
        rng = np.random.default_rng([plan.velocity_seed, _NOISE_STREAM])
        y = add_noise(y, plan.snr_db, rng=rng)
    return limit_peak(y), SAMPLE_RATE


def render_clip(plan: ClipPlan, events_dir=None) -> np.ndarray:
    """Render one clip to a mel-spectrogram (96, n_frames) in dB."""
    return mel_spectrogram(*render_waveform(plan, events_dir))


def _read_cached(path: Path, n_frames: int):
    """Return (mel or None, corrupt) for one cache entry."""
    if not path.exists():
        return None, False
    try:
        mel = np.load(path, allow_pickle=False)
        if mel.shape == (N_MELS, n_frames) and mel.dtype == np.float32 and \
                np.isfinite(mel).all():
            return mel, False
    except (ValueError, OSError, EOFError):
        pass
    return None, True


def _render_and_cache(plan: ClipPlan, key: str, cache_dir: Path, events_dir: Path,
                      preload=()):
    """Return (mel, error) for one clip, rendered and written to the cache."""
    # Every soundfont of the call is loaded by a worker's first task: loky measures a
    # worker's memory after its first task and replaces one that grows 300 MB past it,
    # which loading a large soundfont later would do.
    for path in preload:
        loaded_soundfont(path)
    try:
        mel = render_clip(plan, events_dir)
    except Exception as exc:  # noqa: BLE001 - reported per piece, never silently
        return None, f"{type(exc).__name__}: {exc}"
    atomic_save_npy(cache_dir / f"{key}.npy", mel)
    return mel, None


def _weighted_choice(rng, table: dict) -> int:
    """One program from a weighted table, with exactly one uniform draw from ``rng``."""
    programs = list(table)
    cumulative = np.cumsum([table[p] for p in programs], dtype=np.float64)
    return int(programs[int(np.searchsorted(cumulative / cumulative[-1], rng.random(),
                                            side="right"))])


def _class_tables(classes, instrumentation, instruments) -> dict:
    """The program table (program -> weight) each class draws from."""
    if instrumentation == "shared":
        pool = list(INSTRUMENT_POOL) if instruments is None else [int(p) for p in instruments]
        return {label: dict.fromkeys(pool, 1) for label in classes}
    tables = {}
    for label in classes:
        table = GENRE_INSTRUMENTS.get(label)
        if table is None:
            raise ValueError(f"instrumentation='genre' has no instrument table for class "
                             f"{label!r}; tables: {sorted(GENRE_INSTRUMENTS)}.")
        if instruments is not None:
            table = {p: w for p, w in table.items() if p in set(instruments)}
            if not table:
                raise ValueError(
                    f"instruments={sorted(instruments)} leaves class {label!r} no instrument "
                    f"of its table {sorted(GENRE_INSTRUMENTS[label])} "
                    "(instrumentation='genre').")
        tables[label] = table
    return tables


def _plan(catalogue, classes, n_per_class, clip_seconds, tables, shared_pool, rng):
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
            # the shared pool as given (a program listed twice is drawn twice as often)
            program = (int(rng.choice(shared_pool)) if shared_pool is not None
                       else _weighted_choice(rng, tables[label]))
            class_plans.append(ClipPlan(
                label=label, piece_id=row.piece_id, location=row.location,
                program=program,
                tempo_factor=float(rng.uniform(1 - TEMPO_JITTER, 1 + TEMPO_JITTER)),
                start_fraction=float(rng.uniform(0, 1)),
                velocity_seed=int(rng.integers(2**31)), clip_seconds=float(clip_seconds)))
        plans[label] = (class_plans, rows)
    return plans


def _stream(plan: ClipPlan, stream: int):
    return np.random.default_rng([plan.velocity_seed, stream])


def _dress(plan: ClipPlan, fonts: list[str], ranges) -> ClipPlan:
    """Add the soundfont and effects drawn for a planned clip."""
    changes = {}
    if fonts != [bundled_soundfont()]:
        font = fonts[int(_stream(plan, _SOUNDFONT_STREAM).integers(len(fonts)))]
        changes["soundfont"] = _font_field(font)
    if ranges is not None:
        changes["effects"] = ranges.draw(_stream(plan, _EFFECTS_STREAM))
    return replace(plan, **changes) if changes else plan


def _font_field(path: str) -> str | None:
    """None for the bundled soundfont (its clips share the default cache entries)."""
    return None if Path(path).resolve() == Path(bundled_soundfont()).resolve() else str(path)


def _vary(plan: ClipPlan, variation: ClipVariation, tables, instrumentation) -> ClipPlan:
    changes = {}
    if variation.tempo != 1:
        changes["tempo_factor"] = plan.tempo_factor / variation.tempo
    if variation.transpose:
        changes["transposition"] = plan.transposition + variation.transpose
    if variation.snr_db is not None:
        changes["snr_db"] = float(variation.snr_db)
    if variation.tilt_db_per_octave:
        changes["tilt_db_per_octave"] = float(variation.tilt_db_per_octave)
    if variation.soundfont is not None:
        changes["soundfont"] = _font_field(variation.soundfont)
    if variation.instruments is not None:
        changes["program"] = _weighted_choice(_stream(plan, _PROGRAM_STREAM),
                                              tables[plan.label])
    return replace(plan, **changes) if changes else plan


def _check_effects(effects):
    if effects is None or isinstance(effects, EffectRanges):
        return effects
    if isinstance(effects, str) and effects == "random":
        return EffectRanges()
    raise ValueError(f"effects must be None, 'random' or an EffectRanges, got {effects!r}.")


def render_score_corpus(
    *,
    classes=None,
    n_per_class: int = 60,
    clip_seconds: float = 30.0,
    instruments=None,
    instrumentation: str = "shared",
    soundfonts=None,
    effects=None,
    dynamics: str = "flat",
    variation: ClipVariation | None = None,
    pieces=None,
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
        General-MIDI programs to draw from. With ``instrumentation="shared"``, the one
        pool of every class (None is :data:`INSTRUMENT_POOL`); with ``"genre"``, each
        class's table is restricted to these programs (None keeps the whole tables).
    instrumentation : {"shared", "genre"}, default="shared"
        ``"shared"``: one pool for every class, drawn uniformly, so timbre says nothing
        about the class. ``"genre"``: class-typical, overlapping weighted tables
        (:data:`GENRE_INSTRUMENTS`, listed in the module's documentation).
    soundfonts : None, "installed" or list of path-like, default=None
        None renders with pretty_midi's bundled TimGM6mb. A list: each clip's soundfont
        is drawn from it (seeded, uniformly); each file must define the General-MIDI
        programs the clips may use, else a ``ValueError`` names it. ``"installed"``: the
        bundled one plus the General-MIDI soundfonts found in ``/usr/share/sounds/sf2``,
        ``/usr/share/sounds/sf3`` and ``/usr/share/soundfonts`` (Debian packages
        ``fluid-soundfont-gm``, ``opl3-soundfont``, ``csound-soundfont``,
        ``fluidr3mono-gm-soundfont``, ``musescore-general-soundfont-small``); when none is
        installed, a ``UserWarning`` says so and the bundled one is used alone.
    effects : None, "random" or EffectRanges, default=None
        Per-clip recording and mix effects (reverb, EQ, compression, noise, loudness),
        drawn from :class:`sklearn_genre.effects.EffectRanges` (``"random"``: its
        defaults). None renders clean clips at -20 dBFS RMS.
    dynamics : {"flat", "metrical"}, default="flat"
        Note velocities. ``"flat"``: random around 85 (sd 8) whatever the beat.
        ``"metrical"``: they follow the notated metre, music21's ``beatStrength`` of each
        note (1 on the downbeat, 0.5 on the half bar, less on weaker beats): a downbeat
        averages velocity 106, an off-beat eighth 71 (3.5 dB apart), sd 6.
    variation : ClipVariation or None, default=None
        A change applied to every planned clip, the plan kept (same pieces, starts,
        dynamics, instruments, soundfonts, effects): tempo, transposition, noise at a
        given SNR, EQ tilt, soundfont, instrument pool.
    pieces : collection of str or None, default=None
        Render only the planned clips of these pieces (``groups`` values), for example a
        test set under a variation: the plan is drawn for the whole corpus first, so
        they are the same clips as in the whole corpus, with the same ``track_ids``. A
        piece that fails to render is replaced by another piece of the collection.
    data_home : str or path-like or None
        Cache folder (see :func:`sklearn_genre.datasets.get_data_home`). Clips are
        cached one file each, keyed by everything that changes them (plan, soundfont
        content, effects, variation, package versions), written atomically; a corrupt
        entry is detected and re-rendered. The notes of each score are cached too, so
        a piece is parsed once.
    n_jobs : int or None, default=None
        Parallel rendering processes (joblib); None is 1, -1 is all cores.
    random_state : int, default=0
        Seeds the choice of pieces, instruments, tempi, start points, dynamics,
        soundfonts and effects.
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
        ``soundfonts``: the soundfont file name of every clip;
        ``frame_rate`` (46.875); ``metadata``: a DataFrame of every clip's plan
        (with ``soundfont``, ``transposition``, ``snr_db``, ``tilt_db_per_octave`` and,
        with effects, one ``effects.<name>`` column per effect value);
        ``variation``: the ClipVariation or None;
        ``failures``: pieces that failed to render (replaced by other pieces of
        their class); ``DESCR``.

    Examples
    --------
    >>> from sklearn_genre.datasets import ClipVariation, render_score_corpus
    >>> corpus = render_score_corpus(classes=["jig", "reel"], n_per_class=2,
    ...                              clip_seconds=5.0, verbose=False)  # doctest: +SKIP
    >>> corpus.data[0].shape, sorted(set(corpus.target))  # doctest: +SKIP
    ((96, 236), ['jig', 'reel'])
    >>> noisy = render_score_corpus(classes=["jig", "reel"], n_per_class=2,
    ...                             clip_seconds=5.0, instrumentation="genre",
    ...                             effects="random", variation=ClipVariation(snr_db=10),
    ...                             verbose=False)  # doctest: +SKIP
    """
    from joblib import Parallel, delayed

    if not isinstance(n_per_class, int | np.integer) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}.")
    if not clip_seconds > 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds!r}.")
    if instrumentation not in INSTRUMENTATIONS:
        raise ValueError(f"instrumentation must be one of {INSTRUMENTATIONS}, got "
                         f"{instrumentation!r}.")
    if instruments is not None:
        instruments = [int(p) for p in instruments]
        if not instruments or any(not 0 <= p < 128 for p in instruments):
            raise ValueError(f"instruments must be General-MIDI programs 0-127, got "
                             f"{instruments}.")
    if variation is not None and not isinstance(variation, ClipVariation):
        raise ValueError(f"variation must be a ClipVariation or None, got {variation!r}.")
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {dynamics!r}.")
    ranges = _check_effects(effects)
    started = time.perf_counter()
    catalogue = score_catalogue()
    if classes is None:
        classes = default_classes(catalogue)
    classes = sorted(set(classes))
    tables = _class_tables(classes, instrumentation, instruments)
    programs = {p for table in tables.values() for p in table}
    fonts = resolve_soundfonts(soundfonts, programs)
    varied_tables = tables
    if variation is not None and variation.instruments is not None:
        varied_tables = _class_tables(classes, instrumentation, variation.instruments)
    if variation is not None and variation.soundfont is not None:
        resolve_soundfonts([variation.soundfont],
                           {p for table in varied_tables.values() for p in table})
    rng = check_random_state(random_state)
    rng = np.random.default_rng(rng.randint(2**31))
    shared_pool = None
    if instrumentation == "shared":
        shared_pool = list(INSTRUMENT_POOL) if instruments is None else instruments
    plans = _plan(catalogue, classes, n_per_class, clip_seconds, tables, shared_pool, rng)
    # clip numbers of the whole corpus, kept by subsets, variations and replacements
    numbering = {plan: i for i, plan in enumerate(sorted(
        (p for class_plans, _ in plans.values() for p in class_plans),
        key=lambda p: (p.label, p.piece_id, p.velocity_seed)))}
    todo, number = [], {}
    wanted = None if pieces is None else set(pieces)
    for class_plans, _ in plans.values():
        for base in class_plans:
            if wanted is not None and base.piece_id not in wanted:
                continue
            plan = _dress(base, fonts, ranges)
            if dynamics == "metrical":
                plan = replace(plan, metrical_dynamics=True)
            if variation is not None:
                plan = _vary(plan, variation, varied_tables, instrumentation)
            todo.append(plan)
            number[plan] = numbering[base]
    if not todo:
        raise ValueError(f"pieces: none of the {len(wanted)} given pieces is among the "
                         f"clips drawn with these arguments (e.g. {sorted(wanted)[:3]}).")
    versions = _versions()
    home = get_data_home(data_home)
    cache_dir = home / "score_corpus" / f"v{CORPUS_VERSION}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    events_dir = events_cache_dir(home)
    events_dir.mkdir(parents=True, exist_ok=True)

    results: dict[ClipPlan, np.ndarray] = {}
    failures: list[tuple[str, str]] = []
    n_corrupt = 0
    # replacements for pieces that fail: the class's pieces after the last one used
    spare = {label: rows[n_per_class % len(rows):] + rows[:n_per_class % len(rows)]
             for label, (_, rows) in plans.items()}
    if wanted is not None:
        spare = {label: [r for r in rows if r.piece_id in wanted]
                 for label, rows in spare.items()}
    failed_pieces: set[str] = set()
    log = print if verbose or (verbose is None and shows_progress(None)) else \
        (lambda *a, **k: None)
    log(f"score corpus: {len(todo)} clips of {clip_seconds:g} s, {len(classes)} classes, "
        f"cache {cache_dir}", file=sys.stderr)
    n_frames = expected_frames(clip_seconds)
    while todo:
        # cached clips are read here: workers start only for clips to render
        outputs, pending = {}, []
        for plan in todo:
            key = plan.key(versions)
            mel, corrupt = _read_cached(cache_dir / f"{key}.npy", n_frames)
            n_corrupt += corrupt
            if mel is None:
                pending.append((plan, key))
            else:
                outputs[plan] = (mel, None)
        if pending:
            preload = sorted({plan.soundfont or bundled_soundfont() for plan, _ in pending})
            with own_workers(n_jobs):  # the next parallel fits get fresh workers
                parallel = Parallel(n_jobs=n_jobs, return_as="generator")  # reads the config
                rendered = parallel(
                    delayed(_render_and_cache)(plan, key, cache_dir, events_dir, preload)
                    for plan, key in pending)
                for (plan, _), output in progress(zip(pending, rendered), total=len(pending),
                                                  desc="score corpus", unit="clip",
                                                  verbose=verbose):
                    outputs[plan] = output
        retry = []
        for plan in todo:
            mel, error = outputs[plan]
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
                again = replace(plan, piece_id=row.piece_id, location=row.location)
                number[again] = number[plan]
                retry.append(again)
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
    return _bunch(results, number, catalogue, classes, clip_seconds, instrumentation, fonts,
                  ranges, variation, failures, time.perf_counter() - started)


def _bunch(results, number, catalogue, classes, clip_seconds, instrumentation, fonts, ranges,
           variation, failures, seconds) -> Bunch:
    ordered = sorted(results, key=lambda p: (p.label, p.piece_id, p.velocity_seed))
    piece_tag = dict(zip(catalogue.piece_id, catalogue.tags))
    rows = []
    for plan in ordered:
        row = {f.name: getattr(plan, f.name) for f in fields(plan)
               if f.name not in ("location", "effects")}
        row["soundfont"] = Path(plan.soundfont or bundled_soundfont()).name
        if plan.effects is not None:
            row.update({f"effects.{k}": v for k, v in asdict(plan.effects).items()})
        rows.append(row)
    meta = pd.DataFrame(rows)
    meta["tags"] = [piece_tag[p.piece_id] for p in ordered]
    meta["instrument"] = meta.program.map(PROGRAM_NAMES).fillna("GM program")
    meta["track_id"] = [f"{p.label}/{p.piece_id}/{number[p]}" for p in ordered]
    dropped = catalogue[catalogue.status.str.startswith("metre")]
    descr = _DESCR.format(
        n_clips=len(ordered), classes=", ".join(classes), clip_seconds=clip_seconds,
        counts=", ".join(f"{k}: {v}" for k, v in meta.label.value_counts().sort_index().items()),
        n_groups=meta.piece_id.nunique(), n_dropped=len(dropped),
        n_failures=len(failures), seconds=seconds,
        instrumentation=_INSTRUMENTATION_DESCR[instrumentation],
        soundfonts=", ".join(sorted({Path(f).name for f in fonts})),
        effects=("none (clean clips)" if ranges is None else
                 "reverb, EQ, compression, noise and loudness drawn per clip from "
                 f"{ranges}"),
        variation="none" if variation is None else str(variation),
        dynamics=("velocities following the notated metre (accented downbeats)"
                  if ordered and ordered[0].metrical_dynamics else
                  "random velocities, no metrical accent"),
    )
    return Bunch(
        data=[results[p] for p in ordered],
        target=meta.label.to_numpy(dtype=object),
        tags=list(meta.tags),
        groups=meta.piece_id.to_numpy(dtype=object),
        track_ids=meta.track_id.to_numpy(dtype=object),
        instruments=meta.program.to_numpy(),
        soundfonts=meta.soundfont.to_numpy(dtype=object),
        frame_rate=FRAME_RATE,
        metadata=meta,
        variation=variation,
        failures=failures,
        DESCR=descr,
    )


_INSTRUMENTATION_DESCR = {
    "shared": "one General-MIDI instrument drawn from a pool shared by all classes",
    "genre": "one General-MIDI instrument drawn from a table typical of its class "
             "(tables overlap)",
}

_DESCR = """Score corpus: music rendered from music21's public-domain scores
=====================================================================

{n_clips} clips of {clip_seconds:g} s in {n_groups} distinct pieces (groups); classes: {classes}.
Clips per class: {counts}.

Labels are real metadata: the ABC rhythm field (R:) of Ryan's Mammoth Collection (1883) for
the dance types; J. S. Bach's chorales and Palestrina's mass movements (music21 corpus) for
the two polyphonic styles. {n_dropped} tunes whose metre (M:) contradicts their R: are left out
of every class. {n_failures} pieces failed to render and were replaced.

Each clip: {instrumentation}, a tempo typical of its class (+-8 %), a random start in the
piece (looped), loudness normalized to -20 dBFS, rendered at 24 kHz by tinysoundfont with
the soundfont(s) {soundfonts}, then 12 kHz mono mel-spectrograms by the MTG-Jamendo recipe
(96 bands, frame 512, hop 256, dB).
Dynamics: {dynamics}.
Effects: {effects}.
Variation: {variation}.

Use `groups` for group-disjoint splits: clips of one piece must not sit in train and test.
Built (or read from cache) in {seconds:.1f} s.
"""
