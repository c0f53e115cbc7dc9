"""GTZAN (Tzanetakis & Cook 2002) from a copy you hold, with its artist-disjoint split.

The package ships two facts about the collection, as text (``data/gtzan``, see its
``PROVENANCE.md``), never the audio:

- the "fault-filtered" split of Kereliuk, Sturm & Larsen, "Deep Learning and Music
  Adversaries", IEEE Trans. Multimedia 2015: 443 / 197 / 290 clips for train / validation /
  test, artist-disjoint, leaving out 70 clips with faults (repetitions, distortions,
  mislabelling);
- the artist of each clip from B. L. Sturm, "An Analysis of the GTZAN Music Genre
  Dataset", ACM MIRUM 2012 (81 clips have no known artist).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from ..exceptions import DataFileError
from ._audio_folder import AudioEntry, check_options, check_root, collection_bunch

__all__ = ["load_gtzan", "GTZAN_GENRES"]

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                "reggae", "rock")
SPLITS = (None, "fault-filtered")
_CLIP = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(?P<ext>au|wav)$")
_PARTS = {"train": "train_filtered.txt", "validation": "valid_filtered.txt",
          "test": "test_filtered.txt"}
_CITATION = (
    "Split: Kereliuk, Sturm & Larsen, 'Deep Learning and Music Adversaries', IEEE Trans. "
    "Multimedia 2015 (fault-filtered, artist-disjoint). Artists: B. L. Sturm, 'An Analysis "
    "of the GTZAN Music Genre Dataset', ACM MIRUM 2012. Audio: Tzanetakis & Cook, 'Musical "
    "genre classification of audio signals', IEEE TSAP 2002; it has no copyright permission "
    "and is never redistributed.")


def _metadata(name: str) -> str:
    return (resources.files("sklearn_genre.datasets") / "data" / "gtzan" / name).read_text(
        encoding="utf-8")


@functools.cache
def gtzan_split() -> dict:
    """Return the fault-filtered split: clip name (``"blues.00012"``) -> part."""
    split = {}
    for part, name in _PARTS.items():
        for line in _metadata(name).splitlines():
            if line.strip():
                split[Path(line.strip()).name.rsplit(".", 1)[0]] = part
    return split


@functools.cache
def gtzan_artists() -> dict:
    """Return Sturm's artist of each clip (``"blues.00000"`` -> artist; None if unknown)."""
    artists = {}
    for line in _metadata("GTZANindex.txt").splitlines():
        if line.startswith("##") or ":::" not in line:
            continue
        clip, artist = (field.strip() for field in line.split(":::")[:2])
        artists[clip.rsplit(".", 1)[0]] = artist or None
    return artists


def _clips(folder: Path) -> dict:
    """GTZAN-named files in ``folder/<genre>/``: clip name -> path."""
    clips = {}
    for genre in GTZAN_GENRES:
        genre_dir = folder / genre
        if not genre_dir.is_dir():
            continue
        for path in sorted(genre_dir.iterdir()):
            match = _CLIP.match(path.name)
            if match and match["genre"] == genre and path.is_file():
                clips.setdefault(path.name.rsplit(".", 1)[0], path)
    return clips


def load_gtzan(root, *, split=None, mel=None, on_error="skip", n_jobs=None, data_home=None,
               cache=True, lazy=False, verbose=None):
    """Load GTZAN from a copy you hold, with Sturm's artists and the fault-filtered split.

    Layouts: ``root/genres/<genre>/<genre>.000NN.au`` (the original archive) or
    ``root/genres_original/<genre>/<genre>.000NN.wav`` (the common WAV copies); ``root``
    may also be the ``genres`` folder itself.

    Parameters
    ----------
    root : str or path-like
    split : {None, "fault-filtered"}, default=None
        None loads every clip found; ``"fault-filtered"`` only the 930 clips of the
        artist-disjoint split of Kereliuk et al. 2015 (``split`` says which part).
    mel : MelSpectrogram or None, default=None
    on_error : {"skip", "raise"}, default="skip"
        Missing or unreadable clips (several copies have an unreadable
        ``jazz.00054.wav``) are left out with a warning and listed in ``failures``;
        ``"raise"`` makes the first one an error.
    n_jobs, data_home, cache, lazy, verbose
        As in :func:`load_audio_folder`.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_audio_folder` returns, with ``target`` the genre, ``groups`` the
        artist (``"unknown:<clip>"`` where Sturm 2012 has none), ``track_ids`` the clip
        names (``"blues.00000"``) and ``split``: ``"train"``, ``"validation"``, ``"test"``
        or None (a clip outside the split). :func:`official_splits` turns it into parts
        with a ``PredefinedSplit``.

    Raises
    ------
    DataFileError
        No GTZAN clip under ``root`` (the message gives the expected layouts).

    Examples
    --------
    >>> from sklearn_genre.datasets import load_gtzan, official_splits
    >>> gtzan = load_gtzan("~/data/gtzan", split="fault-filtered")  # doctest: +SKIP
    >>> parts = official_splits(gtzan)  # doctest: +SKIP
    >>> [len(parts[p].target) for p in ("train", "validation", "test")]  # doctest: +SKIP
    [442, 197, 290]

    (a WAV copy whose ``jazz.00054.wav``, a training clip, cannot be decoded).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be None or 'fault-filtered', got {split!r}.")
    check_options(on_error=on_error, mel=mel, min_seconds=None, cache=cache, lazy=lazy)
    expected = (f"{root}/genres/<genre>/<genre>.000NN.au or "
                f"{root}/genres_original/<genre>/<genre>.000NN.wav with genres "
                f"{', '.join(GTZAN_GENRES)}")
    root = check_root(root, expected)
    for folder in (root / "genres", root / "genres_original", root / "Data" / "genres_original",
                   root):
        clips = _clips(folder) if folder.is_dir() else {}
        if clips:
            break
    else:
        raise DataFileError(f"no GTZAN clips under {root}; expected {expected}.")
    parts = gtzan_split()
    artists = gtzan_artists()
    names = sorted(parts) if split else [f"{g}.{n:05d}" for g in GTZAN_GENRES for n in range(100)]
    ext = max(("au", "wav"), key=lambda e: sum(p.suffix == f".{e}" for p in clips.values()))
    entries, missing = [], []
    for name in names:
        if name not in clips:
            missing.append((str(folder / name.split(".")[0] / f"{name}.{ext}"), "missing"))
            continue
        artist = artists.get(name)
        entries.append(AudioEntry(path=clips[name], target=name.split(".")[0], track_id=name,
                                  group=artist if artist else f"unknown:{name}",
                                  split=parts.get(name)))
    n_unknown = sum(e.group.startswith("unknown:") for e in entries)
    header = (f"GTZAN from {folder} ({'fault-filtered split' if split else 'all clips'}): "
              f"10 genres of 30 s clips.\n{_CITATION}")
    group_note = (f"groups: the artist of each clip (Sturm 2012); {n_unknown} clips of unknown "
                  "artist are each their own group ('unknown:<clip>'). split: the "
                  "fault-filtered train / validation / test part (None: left out of it).")
    return collection_bunch(entries, name="GTZAN", header=header, mel=mel, on_error=on_error,
                            n_jobs=n_jobs, data_home=data_home, cache=cache, lazy=lazy,
                            verbose=verbose, failures=missing, with_split=True,
                            group_note=group_note)
