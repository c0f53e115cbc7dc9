"""General-MIDI soundfonts for the score corpus: finding, checking, loading, playing.

The corpus always has pretty_midi's bundled TimGM6mb. Debian and Ubuntu package more
General-MIDI soundfonts, which tinysoundfont reads (``.sf2``, and ``.sf3`` whose
samples it decodes when loading, 1.5-3 s):

========================================  ============================================
Debian package                            file
========================================  ============================================
``fluid-soundfont-gm``                    ``/usr/share/sounds/sf2/FluidR3_GM.sf2``
``timgm6mb-soundfont``                    ``/usr/share/sounds/sf2/TimGM6mb.sf2`` (the
                                          bundled one's name: the bundled file is kept)
``opl3-soundfont``                        ``/usr/share/sounds/sf2/OPL-3_FM_128M.sf2``
                                          (FM synthesis, unlike any sampled font)
``csound-soundfont``                      ``/usr/share/sounds/sf2/sf_GMbank.sf2``
``fluidr3mono-gm-soundfont``              ``/usr/share/sounds/sf3/FluidR3Mono_GM.sf3``
                                          (FluidR3's samples, mono and lossy)
``musescore-general-soundfont-small``     ``/usr/share/sounds/sf3/MuseScore_General_Lite.sf3``
``fluid-soundfont-gs``                    ``/usr/share/sounds/sf2/FluidR3_GS.sf2``: only
                                          GS variation banks, no bank-0 programs;
                                          skipped
========================================  ============================================

:func:`installed_soundfonts` finds them (``/usr/share/sounds/sf2``, ``/usr/share/sounds/sf3``,
``/usr/share/soundfonts``), keeps one file per name and per real path (``default-GM.sf2``
is a link to FluidR3_GM), and skips files that are not soundfonts or lack a bank-0
program. A soundfont is read once per process (:func:`loaded_soundfont`) and cloned per
clip, so a worker never reloads it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "SOUNDFONT_DIRS",
    "bundled_soundfont",
    "installed_soundfonts",
    "resolve_soundfonts",
    "soundfont_programs",
    "soundfont_identity",
    "synthesize_events",
]

#: Folders searched by ``soundfonts="installed"`` (Debian's and the freedesktop layout).
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts")
SOUNDFONT_SUFFIXES = (".sf2", ".sf3")


def bundled_soundfont() -> str:
    """Path of pretty_midi's TimGM6mb soundfont, the corpus's default."""
    import pretty_midi

    return str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")


def _stat_key(path) -> tuple:
    real = os.path.realpath(path)
    stat = os.stat(real)
    return real, stat.st_size, stat.st_mtime_ns


def _skip(handle, size: int) -> None:
    """Seek past a chunk's body; odd sizes are padded to even, except in some .sf3 files."""
    start = handle.tell()
    handle.seek(start + size + (size & 1))
    if size & 1 and handle.read(4) != b"LIST":
        handle.seek(start + size)
    elif size & 1:
        handle.seek(start + size + 1)


def _preset_headers(path: str):
    """(bank, preset) of every preset in a soundfont's ``phdr`` chunk, without its samples."""
    with open(path, "rb") as handle:
        riff, _, form = struct.unpack("<4sI4s", handle.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise ValueError("not a RIFF soundfont (sfbk)")
        while True:
            header = handle.read(12)
            if len(header) < 12:
                raise ValueError("no preset headers (pdta/phdr)")
            chunk, size, kind = struct.unpack("<4sI4s", header)
            if chunk != b"LIST" or kind != b"pdta":
                _skip(handle, size - 4)  # INFO, or sdta's samples
                continue
            end = handle.tell() + size - 4
            while handle.tell() < end:
                sub, sub_size = struct.unpack("<4sI", handle.read(8))
                if sub != b"phdr":
                    handle.seek(sub_size + (sub_size & 1), os.SEEK_CUR)
                    continue
                data = handle.read(sub_size)
                records = [struct.unpack_from("<20sHH", data, offset)
                           for offset in range(0, sub_size - 38 + 1, 38)]
                return [(bank, preset) for _, preset, bank in records[:-1]]  # last: EOP
            raise ValueError("no preset headers (phdr)")


@functools.lru_cache(maxsize=64)
def _programs(stat_key: tuple) -> frozenset:
    return frozenset(preset for bank, preset in _preset_headers(stat_key[0])
                     if bank == 0 and preset < 128)


def soundfont_programs(path) -> frozenset:
    """Return the General-MIDI programs (bank 0, 0-127) a soundfont file defines.

    Raises
    ------
    ValueError
        If the file is missing or is not a soundfont.
    """
    if not Path(path).is_file():
        raise ValueError(f"soundfonts: no such file {str(path)!r}.")
    try:
        return _programs(_stat_key(path))
    except (ValueError, OSError, struct.error) as exc:
        raise ValueError(f"soundfonts: {str(path)!r} is not a readable soundfont "
                         f"(.sf2/.sf3): {exc}.") from exc


@functools.lru_cache(maxsize=64)
def _digest(stat_key: tuple) -> str:
    digest = hashlib.sha256()
    with open(stat_key[0], "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:24]


def soundfont_identity(path) -> dict:
    """What keys a clip's cache entry for a soundfont: its file name and content digest."""
    return {"name": Path(path).name, "sha256": _digest(_stat_key(path))}


def installed_soundfonts(dirs=None) -> tuple[list[str], list[str]]:
    """Find the General-MIDI soundfonts installed on the system, plus the bundled one.

    Parameters
    ----------
    dirs : sequence of path-like or None, default=None
        Folders to search; None is :data:`SOUNDFONT_DIRS`.

    Returns
    -------
    found : list of str
        The bundled TimGM6mb first, then the system's files sorted by name; one file per
        name (case-insensitive) and per real path.
    skipped : list of str
        ``"path: reason"`` for each candidate left out.
    """
    dirs = SOUNDFONT_DIRS if dirs is None else dirs
    found = [bundled_soundfont()]
    names = {Path(found[0]).name.lower()}
    reals = {os.path.realpath(found[0])}
    skipped = []
    candidates = sorted({str(path) for folder in dirs if Path(folder).is_dir()
                         for path in Path(folder).iterdir()
                         if path.suffix.lower() in SOUNDFONT_SUFFIXES},
                        key=lambda p: (Path(p).name.lower(), p))
    for path in candidates:
        try:
            real = os.path.realpath(path)
            if not os.path.isfile(real):
                skipped.append(f"{path}: broken link")
                continue
            name = Path(real).name.lower()
            if real in reals or name in names:
                continue  # a link or another copy of a font already found
            if len(soundfont_programs(real)) < 128:
                skipped.append(f"{path}: has {len(soundfont_programs(real))} of the 128 "
                               "General-MIDI programs in bank 0")
                continue
        except (ValueError, OSError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        found.append(real)
        names.add(name)
        reals.add(real)
    return found[:1] + sorted(found[1:], key=lambda p: Path(p).name.lower()), skipped


def resolve_soundfonts(soundfonts, programs) -> list[str]:
    """Check the ``soundfonts`` argument of the corpus and return the files to draw from.

    Parameters
    ----------
    soundfonts : None, "installed" or sequence of path-like
        None is the bundled TimGM6mb. ``"installed"`` is :func:`installed_soundfonts`;
        when it finds nothing but the bundled font, a warning says which Debian packages
        add soundfonts and the corpus renders with the bundled one.
    programs : collection of int
        The General-MIDI programs the clips may use; each file must define all of them.

    Returns
    -------
    paths : list of str
    """
    if soundfonts is None:
        return [bundled_soundfont()]
    if isinstance(soundfonts, str) and soundfonts == "installed":
        paths, _ = installed_soundfonts()
        if len(paths) == 1:
            warnings.warn(
                "soundfonts='installed': no General-MIDI soundfont found in "
                f"{', '.join(map(str, SOUNDFONT_DIRS))}; rendering with the bundled "
                "TimGM6mb only. "
                "Debian packages that add some: fluid-soundfont-gm, opl3-soundfont, "
                "csound-soundfont, fluidr3mono-gm-soundfont, "
                "musescore-general-soundfont-small.",
                UserWarning, stacklevel=3)
        return paths
    if isinstance(soundfonts, str | os.PathLike) or not hasattr(soundfonts, "__iter__"):
        raise ValueError(f"soundfonts must be None, 'installed' or a list of soundfont "
                         f"files, got {soundfonts!r}.")
    paths = [str(Path(p).expanduser()) for p in soundfonts]
    if not paths:
        raise ValueError("soundfonts is an empty list; expected at least one soundfont file "
                         "(or None for the bundled one).")
    for path in paths:
        missing = sorted(set(programs) - soundfont_programs(path))
        if missing:
            raise ValueError(f"soundfonts: {path!r} lacks the General-MIDI programs "
                             f"{missing} (bank 0) that the clips may use.")
    return paths


@functools.lru_cache(maxsize=8)
def _loaded(stat_key: tuple):
    # tinysoundfont==0.3.7's engine object: loaded once, cloned per clip (the public
    # Synth reloads the file each time)
    from tinysoundfont._tinysoundfont import SoundFont

    return SoundFont(stat_key[0])


def loaded_soundfont(path):
    """Return a fresh player of a soundfont, reading the file once per process."""
    from tinysoundfont._tinysoundfont import SoundFont

    return SoundFont(_loaded(_stat_key(path)))


#: MIDI velocity of a note with no metrical accent (see :func:`synthesize_events`).
VELOCITY_UNACCENTED = 66
#: Velocity added per unit of metrical accent: a downbeat (accent 1) averages 106, the
#: half bar 86, a beat of 4/4 76, an off-beat eighth 71. The players scale amplitude
#: linearly with velocity, so a downbeat is 3.5 dB above an off-beat eighth.
ACCENT_VELOCITY = 40
#: Standard deviation of the velocities around their metrical mean.
VELOCITY_SD = 6


def synthesize_events(events: np.ndarray, *, program: int, soundfont: str,
                      seconds_per_ql: float, start_ql: float, clip_seconds: float,
                      velocity_seed: int, transpose: int = 0,
                      sample_rate: int = 24000) -> np.ndarray:
    """Render note events to a mono waveform, looping the piece, at -20 dBFS RMS.

    Parameters
    ----------
    events : np.ndarray [shape=(n_notes, 3) or (n_notes, 4)]
        ``(offset, duration, midi_pitch)`` in quarter lengths, optionally followed by
        each note's metrical accent in [0, 1] (music21's ``beatStrength``: 1 on the
        downbeat, 0.5 on the half bar, less on weaker beats).
    program : int
        General-MIDI program (bank 0).
    soundfont : str
        Soundfont file.
    seconds_per_ql : float
        Seconds per quarter length (the tempo).
    start_ql : float
        Where in the piece the clip starts.
    clip_seconds : float
    velocity_seed : int
        Seeds the note velocities, within 40-127: normal with sd
        :data:`VELOCITY_SD`, around :data:`VELOCITY_UNACCENTED` plus
        :data:`ACCENT_VELOCITY` times the accent (a downbeat 3.5 dB above an off-beat
        eighth, as players stress the metre); without an accent column, around 85
        with sd 8.
    transpose : int, default=0
        Semitones added to every pitch (notes pushed outside 0-127 are dropped).
    sample_rate : int, default=24000

    Returns
    -------
    waveform : np.ndarray [shape=(round(clip_seconds * sample_rate),), dtype=float32]

    Raises
    ------
    ValueError
        If the rendering is silent.
    """
    from tinysoundfont._tinysoundfont import OutputMode

    piece_ql = float((events[:, 0] + events[:, 1]).max())
    rng = np.random.default_rng(velocity_seed)
    seconds = clip_seconds
    messages = []
    n_loops = int(np.ceil((seconds / seconds_per_ql + start_ql) / piece_ql)) + 1
    pitches = events[:, 2] + transpose
    for loop in range(n_loops):
        onset = (events[:, 0] + loop * piece_ql - start_ql) * seconds_per_ql
        offset = onset + events[:, 1] * seconds_per_ql * 0.95
        if events.shape[1] > 3:
            mean = VELOCITY_UNACCENTED + ACCENT_VELOCITY * events[:, 3]
            velocity = rng.normal(mean, VELOCITY_SD)
        else:
            velocity = rng.normal(85, 8, len(events))
        velocity = np.clip(velocity, 40, 127).astype(int)
        keep = (onset >= 0) & (onset < seconds) & (pitches >= 0) & (pitches <= 127)
        for t_on, t_off, pitch, vel in zip(onset[keep], offset[keep], pitches[keep],
                                           velocity[keep]):
            messages.append((t_on, 1, int(pitch), int(vel)))
            messages.append((min(t_off, seconds), 0, int(pitch), 0))
    # note-offs before note-ons at the same time, so repeated notes re-strike
    messages.sort(key=lambda m: (m[0], m[1]))
    player = loaded_soundfont(soundfont)
    player.set_output(OutputMode.StereoInterleaved, sample_rate, 0.0)
    player.set_max_voices(256)
    player.channel_set_bank(0, 0)
    player.channel_set_preset_number(0, program, False)
    n_total = int(round(seconds * sample_rate))
    stereo = np.zeros(2 * n_total, dtype=np.float32)
    buffer = memoryview(stereo).cast("B")
    position = 0
    for time_s, is_on, pitch, velocity in messages:
        target = min(int(round(time_s * sample_rate)), n_total)
        if target > position:
            player.render(buffer[8 * position: 8 * target], False)
            position = target
        if is_on:
            player.channel_note_on(0, pitch, velocity / 127.0)
        else:
            player.channel_note_off(0, pitch)
    if position < n_total:
        player.render(buffer[8 * position:], False)
    out = stereo.reshape(-1, 2).mean(axis=1)
    rms = float(np.sqrt(np.mean(np.square(out))))
    if rms < 1e-6:
        raise ValueError("the rendering is silent")
    out *= 0.1 / rms  # loudness normalized to -20 dBFS RMS
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out *= 0.99 / peak
    return out
