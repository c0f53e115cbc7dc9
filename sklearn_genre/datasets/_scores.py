"""The pieces the score corpus draws from: their catalogue and their notes.

Classes come from real metadata, never invented: the dance type in the ABC rhythm
field (``R:``) of Ryan's Mammoth Collection (1883), plus two polyphonic styles,
J. S. Bach's four-part chorales and Palestrina's mass movements, all bundled with
music21. :func:`note_events` parses a score once and caches its notes on disk, so the
clips drawn from a piece (other starts, tempi, instruments, variations) never parse it
again.
"""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd

from ._base import atomic_save_npy

__all__ = ["score_catalogue", "default_classes", "note_events", "DANCE_METRES", "MIN_PIECES"]

#: Format of the cached note events; bump when :func:`parse_note_events` changes.
EVENTS_VERSION = 2  # 2: a fourth column, the metrical accent of each note

#: Accent given to notes when the score has no time signature (music21's weight of a
#: beat that is neither the downbeat nor the half bar in 4/4).
UNMETERED_ACCENT = 0.25

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




_KERN_TOKEN = re.compile(r"^(\[?)(\d+)(\.*)([A-Ga-g]+|r)([#\-n]*)([\]_]?)$")
_KERN_STEPS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_KERN_ALTER = {"#": 1, "-": -1, "n": 0}


class _UnsupportedKern(ValueError):
    """A **kern construct the fast reader leaves to music21."""


def _kern_duration(recip: str, dots: str):
    from fractions import Fraction

    # "0" is a breve, "00" a long
    base = Fraction(4, int(recip)) if int(recip) else Fraction(8 * 2 ** (len(recip) - 1))
    return base * (2 - Fraction(1, 2 ** len(dots)))


def _kern_note_events(path: Path) -> np.ndarray:
    """The notes of a plain **kern file (no spine splits, chords or grace notes).

    The same events as music21's Humdrum parser followed by ``stripTies`` and
    ``flatten``, in the same order (by onset, then part from the top voice down, then
    position), about 100 times faster; raises :class:`_UnsupportedKern` otherwise.
    """
    from fractions import Fraction

    columns = None
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line or line.startswith("!"):
            continue
        fields = line.split("\t")
        if line.startswith("**"):
            if any(f != "**kern" for f in fields) or columns is not None:
                raise _UnsupportedKern(f"spines {fields}")
            columns = [{"time": Fraction(0), "notes": [], "open": None, "metre": None,
                        "bar": None, "first_bar": None} for _ in fields]
            continue
        if columns is None or len(fields) != len(columns):
            raise _UnsupportedKern(f"line {line!r}")
        if line.startswith("*"):
            if any(f in ("*^", "*v", "*+", "*x") for f in fields):
                raise _UnsupportedKern(f"spine manipulation {line!r}")
            for column, token in zip(columns, fields):
                if _KERN_METRE.match(token):
                    if column["metre"] is not None and column["metre"] != token[2:]:
                        raise _UnsupportedKern(f"metre change {token!r}")
                    column["metre"] = token[2:]
            continue
        if line.startswith("="):
            for column in columns:
                column["bar"] = column["time"]
                if column["first_bar"] is None:
                    column["first_bar"] = column["time"]
            continue
        for column, token in zip(columns, fields):
            if token == ".":
                continue
            match = _KERN_TOKEN.match(token)
            if match is None:
                raise _UnsupportedKern(f"token {token!r}")
            tie_start, recip, dots, name, accidentals, tie_end = match.groups()
            duration = _kern_duration(recip, dots)
            onset = column["time"]
            column["time"] += duration
            if name == "r":
                if tie_start or tie_end or column["open"] is not None:
                    raise _UnsupportedKern(f"tied rest {token!r}")
                continue
            letter = name[0].lower()
            if name.strip(name[0]) or any(c.lower() != letter for c in name):
                raise _UnsupportedKern(f"pitch {name!r}")
            octave = 3 + len(name) if name[0].islower() else 4 - len(name)
            midi = 12 * (octave + 1) + _KERN_STEPS[letter] + sum(
                _KERN_ALTER[a] for a in accidentals)
            held = column["open"]
            if held is not None:
                if tie_start or held[2] != midi:
                    raise _UnsupportedKern(f"tie into {token!r}")
                held[1] += duration
                if tie_end == "]":
                    column["open"] = None
                continue
            if tie_end:
                raise _UnsupportedKern(f"tie end without a start {token!r}")
            note = [onset, duration, midi, column["bar"]]
            column["notes"].append(note)
            if tie_start:
                column["open"] = note
    if columns is None or any(c["open"] is not None for c in columns):
        raise _UnsupportedKern("no spines, or a tie left open")
    # music21 makes the last spine (the top voice) its first part
    events = [(float(onset), float(duration), midi,
               _kern_accent(column, onset, bar), part, k)
              for part, column in enumerate(reversed(columns))
              for k, (onset, duration, midi, bar) in enumerate(column["notes"])]
    events.sort(key=lambda e: (e[0], e[4], e[5]))
    return np.array([e[:4] for e in events], dtype=np.float64).reshape(-1, 4)


_KERN_METRE = re.compile(r"^\*M\d+/\d+$")


def _kern_accent(column: dict, onset, bar) -> float:
    """music21's ``beatStrength`` of a note of a **kern spine.

    The offset in the bar counts from the last barline; before the first one (a pickup)
    the bar is right-aligned on that barline, as music21 pads a pickup measure.
    """
    if column["metre"] is None:
        return UNMETERED_ACCENT
    metre = _time_signature(column["metre"])
    bar_ql = metre.barDuration.quarterLength
    if bar is None:
        first = column["first_bar"] if column["first_bar"] is not None else 0
        offset = bar_ql - (first - onset) if first > onset else onset
    else:
        offset = onset - bar
    return float(metre.getAccentWeight(float(offset) % bar_ql, forcePositionMatch=True,
                                       permitMeterModulus=False))


@functools.lru_cache(maxsize=64)
def _time_signature(text: str):
    from music21 import meter

    return meter.TimeSignature(text)


def parse_note_events(location: str) -> np.ndarray:
    """Parse a score and return its notes, tied notes merged.

    Plain **kern files (all of Palestrina's) are read directly, with the same result as
    music21 in a hundredth of the time; everything else goes through music21.

    Parameters
    ----------
    location : str
        A score file, or a music21 corpus name (``"bach/bwv269"``).

    Returns
    -------
    events : np.ndarray [shape=(n_notes, 4), dtype=float64]
        ``(offset, duration, midi_pitch, accent)`` of every sounding note, offsets and
        durations in quarter lengths, the accent music21's ``beatStrength`` (1 on the
        downbeat, 0.5 on the half bar, less on weaker beats; :data:`UNMETERED_ACCENT`
        without a time signature), in music21's order (by onset, then part); grace notes (no
        duration) are left out.
    """
    path = Path(location)
    if path.suffix == ".krn" and path.is_file():
        try:
            events = _kern_note_events(path)
        except _UnsupportedKern:
            pass
        else:
            if len(events):
                return events
    return _note_events_music21(location)


def _note_events_music21(location: str) -> np.ndarray:
    """:func:`parse_note_events` by music21: parse, merge ties, flatten."""
    from music21 import converter, corpus

    path = Path(location)
    if not path.is_file():
        work = corpus.getWork(location)
        path = Path(work[0] if isinstance(work, list) else work)
    # music21's own pickle cache (written to the temporary folder) would cost more than
    # it saves: the events are cached instead
    score = converter.parse(path, forceSource=True, storePickle=False)
    score.stripTies(inPlace=True)
    events = []
    for element in score.flatten().notes:
        duration = float(element.quarterLength)
        if duration <= 0:  # grace notes
            continue
        accent = float(element.beatStrength)
        if not np.isfinite(accent):  # no time signature
            accent = UNMETERED_ACCENT
        pitches = element.pitches if element.isChord else [element.pitch]
        for pitch in pitches:
            events.append((float(element.offset), duration, int(pitch.midi), accent))
    if not events:
        raise ValueError(f"the score {location} has no notes")
    return np.array(events, dtype=np.float64)


def _music21_version():
    try:
        return importlib_metadata.version("music21")
    except importlib_metadata.PackageNotFoundError:  # pragma: no cover
        return None


def events_cache_dir(data_home: Path) -> Path:
    """Folder of the cached note events under a data home."""
    return Path(data_home) / "score_corpus" / "events" / f"v{EVENTS_VERSION}"


@functools.lru_cache(maxsize=256)
def _events_in_memory(piece_id: str, location: str, cache_dir: str | None) -> np.ndarray:
    if cache_dir is None:
        return parse_note_events(location)
    name = hashlib.sha256(f"{piece_id}|{_music21_version()}".encode()).hexdigest()[:32]
    path = Path(cache_dir) / f"{name}.npy"
    if path.exists():
        try:
            events = np.load(path, allow_pickle=False)
            if events.ndim == 2 and events.shape[1] == 4 and len(events) and \
                    events.dtype == np.float64 and np.isfinite(events).all():
                return events
        except (ValueError, OSError, EOFError):
            pass  # corrupt: parsed again and rewritten
    events = parse_note_events(location)
    atomic_save_npy(path, events)
    return events


def note_events(piece_id: str, location: str, cache_dir=None) -> np.ndarray:
    """Return the notes of a catalogued piece, parsed once and cached.

    Parameters
    ----------
    piece_id : str
        The catalogue's ``piece_id``; with the music21 version, it keys the cache.
    location : str
        The catalogue's ``location``.
    cache_dir : path-like or None
        Folder of the cached events (:func:`events_cache_dir`); None parses without a
        disk cache. Within a process, the last 256 pieces are also kept in memory.

    Returns
    -------
    events : np.ndarray [shape=(n_notes, 4), dtype=float64]
        See :func:`parse_note_events`; read-only.
    """
    events = _events_in_memory(piece_id, location, None if cache_dir is None
                               else str(cache_dir))
    events.flags.writeable = False
    return events
