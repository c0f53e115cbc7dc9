"""Audio collections on disk to mel-spectrograms: the class-per-folder loader, and what
every audio loader shares (file discovery, option checks, the Bunch, official splits).

The mels themselves come from :func:`sklearn_genre.datasets._audio_cache.extract_mels`:
the library's recipe, in parallel, cached on disk by file content.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch

from ..audio import FRAME_RATE, N_MELS, SAMPLE_RATE, MelSpectrogram
from ..exceptions import DataFileError
from ._audio_cache import extract_mels
from ._mtg import LazyMelList

__all__ = ["load_audio_folder", "official_splits", "AUDIO_EXTENSIONS"]

#: File name endings read as audio (case-insensitive); any other file is ignored.
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd",
                              ".aif", ".aiff", ".aifc", ".m4a"})


@dataclass
class AudioEntry:
    """One audio file of a collection, with what its loader knows about it."""

    path: Path
    target: str
    track_id: object
    group: object = None
    split: str | None = None


def _hidden(name: str) -> bool:
    # dot files (.DS_Store, macOS "._x.wav" resource forks) and zip artefacts are no audio
    return name.startswith(".") or name == "__MACOSX"


def is_audio_file(path: Path) -> bool:
    """True for a visible regular file whose name ends in one of :data:`AUDIO_EXTENSIONS`."""
    return (not _hidden(path.name) and path.suffix.lower() in AUDIO_EXTENSIONS
            and path.is_file())


def check_root(root, expected: str) -> Path:
    """Return ``root`` as a Path; DataFileError saying what was expected if not a folder."""
    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a folder path (str or path-like), got "
                        f"{type(root).__name__}; expected {expected}.")
    path = Path(root).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataFileError(f"root folder {path} {what}; expected {expected}.")
    return path.absolute()


def check_options(*, on_error, mel, min_seconds, cache, lazy) -> None:
    """Check the options every audio loader takes; errors name the argument."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    if mel is not None and not isinstance(mel, MelSpectrogram):
        raise TypeError(f"mel must be None or a sklearn_genre.MelSpectrogram, got "
                        f"{type(mel).__name__}.")
    if min_seconds is not None and not (isinstance(min_seconds, int | float)
                                        and min_seconds >= 0):
        raise ValueError(f"min_seconds must be None or a number >= 0, got {min_seconds!r}.")
    if lazy and not cache:
        raise ValueError("lazy=True reads the mels from the cache; it needs cache=True.")


def collection_bunch(entries, *, name, header, mel=None, on_error="raise", min_seconds=None,
                     n_jobs=None, data_home=None, cache=True, lazy=False, verbose=None,
                     failures=(), with_split=False, group_note="", extras=None,
                     stacklevel=3):
    """Extract every entry's mel and return the loaders' Bunch (see load_audio_folder).

    ``failures`` are problems found before extraction (missing files); ``extras`` maps a
    key to one value per entry, returned in the Bunch like ``groups``.
    """
    failures = list(failures)
    if on_error == "raise" and failures:
        path, reason = failures[0]
        raise DataFileError(f"{path}: {reason}. Pass on_error='skip' to leave such files out "
                            "(they are then listed in the Bunch's `failures`).")
    mels, failed, n_rebuilt, cache_dir = extract_mels(
        [e.path for e in entries], mel=mel, on_error=on_error, min_seconds=min_seconds,
        n_jobs=n_jobs, data_home=data_home, cache=cache, lazy=lazy, verbose=verbose, desc=name)
    failures += failed
    keep = [i for i, m in enumerate(mels) if m is not None]
    if not keep:
        raise DataFileError(f"{name}: none of the {len(entries)} audio files could be read; "
                            f"first failures: {failures[:3]}.")
    if failures:
        warnings.warn(f"{name}: {len(failures)} files missing or unreadable were left out "
                      f"(on_error='skip'): {_summary(failures)}; the full list is the "
                      "Bunch's `failures`.", UserWarning, stacklevel=stacklevel)
    if n_rebuilt:
        warnings.warn(f"{n_rebuilt} corrupt cache entries were re-computed.", UserWarning,
                      stacklevel=stacklevel)
    kept = [entries[i] for i in keep]
    target = np.array([e.target for e in kept], dtype=object)
    counts = dict(sorted(Counter(target.tolist()).items()))
    groups = np.array([e.group for e in kept] + [None], dtype=object)[:-1]
    descr = (f"{header}\n\n{len(kept)} tracks in {len(counts)} classes, "
             f"{len(set(groups.tolist()))} groups; {len(failures)} files missing or "
             f"unreadable (listed in `failures`).\nTracks per class: {counts}.\n"
             f"{group_note}\nMels: the library's recipe (mono, {SAMPLE_RATE} Hz, {N_MELS} "
             f"bands, {FRAME_RATE:g} frames/s), "
             + (f"cached in {cache_dir}." if cache_dir is not None else "not cached."))
    bunch = Bunch(
        data=LazyMelList([mels[i] for i in keep]) if lazy else [mels[i] for i in keep],
        target=target, groups=groups,
        track_ids=np.array([e.track_id for e in kept] + [None], dtype=object)[:-1],
        filenames=np.array([str(e.path) for e in kept], dtype=object),
        failures=failures, DESCR=descr)
    if with_split:
        bunch.split = np.array([e.split for e in kept], dtype=object)
    for key, values in (extras or {}).items():
        bunch[key] = np.array([values[i] for i in keep], dtype=object)
    return bunch


def _summary(failures) -> str:
    """The unreadable files with their reasons, then a count of the missing ones."""
    missing = [Path(p).name for p, reason in failures if reason == "missing"]
    bad = [f"{Path(p).name} ({reason})" for p, reason in failures if reason != "missing"]
    parts = ([f"{len(bad)} unreadable: {'; '.join(bad[:3])}{' ...' * (len(bad) > 3)}"] * bool(bad)
             + [f"{len(missing)} missing: {', '.join(missing[:3])}{' ...' * (len(missing) > 3)}"]
             * bool(missing))
    return ", ".join(parts)


def _subset(bunch, indices):
    n = len(bunch.target)
    out = Bunch(**{key: (value[indices] if isinstance(value, np.ndarray) and len(value) == n
                         else value) for key, value in bunch.items() if key != "data"})
    out.data = (bunch.data[indices] if isinstance(bunch.data, LazyMelList)
                else [bunch.data[i] for i in indices])
    return out


def official_splits(bunch):
    """Return the parts of a collection's official split, as ``load_mtg_jamendo_splits`` does.

    Parameters
    ----------
    bunch : sklearn.utils.Bunch
        Returned by :func:`load_gtzan` or :func:`load_fma` (they have ``split``). Tracks
        outside the split (``split`` None) are left out of every part.

    Returns
    -------
    splits : sklearn.utils.Bunch
        ``train``, ``validation``, ``test`` (each a Bunch with the keys of ``bunch``) and
        ``train_validation``: train followed by validation, with ``cv``, a
        :class:`~sklearn.model_selection.PredefinedSplit` that makes ``GridSearchCV`` fit
        on train and score on validation.
    """
    split = bunch.get("split") if isinstance(bunch, Mapping) else None
    if split is None:
        raise ValueError("bunch has no `split`: only collections with an official split "
                         "(load_gtzan, load_fma) return one; for the others use "
                         "StratifiedGroupKFold with groups=bunch.groups.")
    index = {part: np.flatnonzero(split == part) for part in ("train", "validation", "test")}
    parts = {part: _subset(bunch, idx) for part, idx in index.items()}
    combined = _subset(bunch, np.r_[index["train"], index["validation"]])
    combined.cv = PredefinedSplit(np.r_[np.full(len(index["train"]), -1),
                                        np.zeros(len(index["validation"]), dtype=int)])
    return Bunch(**parts, train_validation=combined)


def _read_groups_csv(path: Path) -> dict:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"groups file {path} cannot be read: {exc}") from exc
    if not rows:
        raise DataFileError(f"groups file {path} is empty; expected a header (path,group) "
                            "and a row per file.")
    header = [h.strip().lower() for h in rows[0]]
    names = [h for h in header if h in ("path", "file", "filename")]
    labels = [h for h in header if h in ("group", "artist", "artist_id")]
    if names and labels:
        key_col, group_col = header.index(names[0]), header.index(labels[0])
    elif len(header) == 2:
        key_col, group_col = 0, 1
    else:
        raise DataFileError(f"groups file {path} has columns {rows[0]}; expected a 'path' (or "
                            "'file') column and a 'group' (or 'artist') column.")
    return {row[key_col].strip(): row[group_col].strip() for row in rows[1:]
            if len(row) > max(key_col, group_col) and row[key_col].strip()}


def _resolve_groups(groups, entries, root: Path):
    if groups is None:
        return [e.track_id for e in entries], (
            "groups: none given, so each file is its own group: files of one artist may sit "
            "on both sides of a split (pass groups= to keep artists together).")
    if callable(groups):
        values = [groups(e.path) for e in entries]
        bad = [str(e.path) for e, v in zip(entries, values) if v is None]
        if bad:
            raise ValueError(f"groups returned None for {len(bad)} files, e.g. {bad[:3]}; "
                             "expected a group (artist) for every file.")
        return values, "groups: from the groups= callable."
    if isinstance(groups, Mapping):
        mapping, source = groups, "the groups= mapping"
    elif isinstance(groups, str | os.PathLike):
        mapping, source = _read_groups_csv(Path(groups)), f"groups file {groups}"
    else:
        raise TypeError(f"groups must be None, a callable path -> group, a mapping or a CSV "
                        f"file path; got {type(groups).__name__}.")
    values, missing = [], []
    for e in entries:
        relative = e.path.relative_to(root).as_posix()
        keys = (relative, relative.rsplit(".", 1)[0], e.path.name, e.path.stem)
        found = next((mapping[k] for k in keys if k in mapping), None)
        values.append(found)
        if found is None:
            missing.append(relative)
    if missing:
        raise DataFileError(f"{source} has no group for {len(missing)} of {len(entries)} "
                            f"files, e.g. {missing[:3]}; expected one per file, keyed by its "
                            f"path relative to {root} (e.g. 'rock/song.wav') or its name.")
    return values, f"groups: from {source}."


def load_audio_folder(root, *, groups=None, mel=None, on_error="raise", min_seconds=None,
                      n_jobs=None, data_home=None, cache=True, lazy=False, verbose=None):
    """Load a class-per-folder audio collection as mel-spectrograms.

    ``root/<class>/<file>``: one sub-folder per class (files deeper inside a class folder
    belong to it), any format soundfile or librosa decodes (wav, flac, ogg, mp3, au, ...).
    Audio is mixed down to mono, resampled to 12 kHz and turned into mels with the
    library's recipe. Other files (``.txt``, ``.DS_Store``, hidden files) are ignored.

    Parameters
    ----------
    root : str or path-like
    groups : None, callable, mapping or path to a CSV file, default=None
        The group (artist) of each file, for artist-disjoint splits: a callable
        ``path -> group``, a mapping, or a CSV with columns ``path,group`` (or
        ``file,artist``), keyed by the path relative to ``root`` (``rock/song.wav``) or by
        the file's name. None makes each file its own group.
    mel : MelSpectrogram or None, default=None
        The extractor to use (the library's recipe); None uses the recipe directly.
    on_error : {"raise", "skip"}, default="raise"
        A file that cannot be decoded (corrupt, empty, silent): a :class:`DataFileError`
        naming it, or leave it out with a warning, listed in ``failures``.
    min_seconds : float or None, default=None
        Files with less audio count as failures ("too short").
    n_jobs : int or None, default=None
        Files decoded in parallel (joblib); -1 uses all cores. Fewer than 64 files to
        decode are done in this process: starting worker processes takes longer.
    data_home : str or path-like or None
        Cache folder (see :func:`get_data_home`); mels go to ``audio_mels/<recipe key>``.
    cache : bool, default=True
        Read and write the cache; False computes every mel and stores nothing.
    lazy : bool, default=False
        Return ``data`` as a :class:`LazyMelList` of the cache entries (memory-mapped)
        instead of arrays in memory, for collections larger than memory.
    verbose : bool or None, default=None
        A progress bar on standard error; None shows it when standard error is a terminal
        and there are more than 20 files.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data``: list of ``np.ndarray [shape=(96, n_frames_i), dtype=float32]``;
        ``target``: ``np.ndarray [shape=(n_tracks,)]`` of class names; ``groups``;
        ``track_ids`` (paths relative to ``root``); ``filenames`` (absolute paths);
        ``failures``: ``(path, reason)`` of the files left out; ``DESCR``.

    Raises
    ------
    DataFileError
        ``root`` is not a folder or holds no class folder with audio; a file cannot be read
        (``on_error="raise"``); the groups file misses files.

    Examples
    --------
    >>> from sklearn_genre.datasets import load_audio_folder
    >>> data = load_audio_folder("my_music/", n_jobs=-1)  # doctest: +SKIP
    >>> data.data[0].shape, data.target[0]  # doctest: +SKIP
    ((96, 1408), 'rock')
    """
    check_options(on_error=on_error, mel=mel, min_seconds=min_seconds, cache=cache, lazy=lazy)
    expected = (f"one sub-folder per class holding its audio files, e.g. {root}/rock/song.wav "
                f"(extensions {', '.join(sorted(AUDIO_EXTENSIONS))})")
    root = check_root(root, expected)
    entries, empty, n_ignored = [], [], 0
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p.name))
        loose = [p.name for p in root.iterdir() if is_audio_file(p)]
        for folder in folders:
            files = [p for p in sorted(folder.rglob("*"))
                     if not any(_hidden(part) for part in p.relative_to(folder).parts)]
            audio = [p for p in files if is_audio_file(p)]
            n_ignored += sum(p.is_file() for p in files) - len(audio)
            if not audio:
                empty.append(folder.name)
            entries += [AudioEntry(path=p, target=folder.name,
                                   track_id=p.relative_to(root).as_posix()) for p in audio]
    except OSError as exc:
        raise DataFileError(f"cannot list {root}: {exc}") from exc
    if not entries:
        found = (f"; it has {len(loose)} audio files but no class folders" if loose else
                 f"; its folders {empty[:5]} hold no audio" if empty else "")
        raise DataFileError(f"no audio files in class folders under {root}{found}; "
                            f"expected {expected}.")
    if loose or empty:
        ignored = ([f"{len(loose)} audio files outside class folders {loose[:3]}"] * bool(loose)
                   + [f"{len(empty)} class folders without audio {empty[:3]}"] * bool(empty))
        warnings.warn(f"{root}: ignored {' and '.join(ignored)}.", UserWarning, stacklevel=2)
    values, group_note = _resolve_groups(groups, entries, root)
    for entry, value in zip(entries, values):
        entry.group = value
    return collection_bunch(
        entries, name=f"audio folder {root.name}", mel=mel, on_error=on_error,
        min_seconds=min_seconds, n_jobs=n_jobs, data_home=data_home, cache=cache, lazy=lazy,
        verbose=verbose, group_note=group_note,
        header=f"Audio folder {root}: one sub-folder per class ({n_ignored} non-audio files "
               "ignored).")
