"""FMA, the Free Music Archive data set (Defferrard et al., ISMIR 2017), from files you hold.

Metadata: ``fma_metadata/tracks.csv``, whose header has three rows (column group, column
name, then ``track_id``): ``track.genre_top`` is the label, ``set.split`` the official
training / validation / test split (artist-filtered), ``artist.id`` the artist and
``set.subset`` the subset (small within medium within large). Audio:
``fma_<subset>/<first 3 digits>/<6 digits>.mp3``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import DataFileError
from ._audio_folder import AudioEntry, check_options, check_root, collection_bunch

__all__ = ["load_fma", "read_fma_tracks", "FMA_SUBSETS"]

#: Subsets in increasing size; each holds the tracks of the ones before it. "full" is every
#: track, untrimmed (``fma_full``).
FMA_SUBSETS = ("small", "medium", "large", "full")
_COLUMNS = (("track", "genre_top"), ("set", "split"), ("set", "subset"), ("artist", "id"))
_SPLIT_NAMES = {"training": "train", "validation": "validation", "test": "test"}
_CITATION = ("Defferrard, Benzi, Vandergheynst & Bresson, 'FMA: A Dataset for Music "
             "Analysis', ISMIR 2017. Each track is licensed by its artist (Creative Commons, "
             "see tracks.csv's track.license); metadata CC BY 4.0.")


def _tracks_csv(metadata_root) -> Path:
    expected = ("FMA's metadata: <metadata_root>/fma_metadata/tracks.csv (from "
                "fma_metadata.zip), or that folder, or the tracks.csv file itself")
    if not isinstance(metadata_root, str | Path):
        raise TypeError(f"metadata_root must be a path, got {type(metadata_root).__name__}; "
                        f"expected {expected}.")
    root = Path(metadata_root).expanduser()
    for candidate in (root, root / "tracks.csv", root / "fma_metadata" / "tracks.csv"):
        if candidate.is_file():
            return candidate
    raise DataFileError(f"no tracks.csv at {root}; expected {expected}.")


def read_fma_tracks(metadata_root):
    """Read FMA's ``tracks.csv`` (three-row header) as a DataFrame indexed by ``track_id``.

    Parameters
    ----------
    metadata_root : str or path-like
        The folder holding ``fma_metadata/``, that folder, or ``tracks.csv`` itself.

    Returns
    -------
    tracks : pandas.DataFrame
        Two-level columns (``("track", "genre_top")``, ``("set", "split")``, ...), index
        ``track_id`` (int).

    Raises
    ------
    DataFileError
        The file is missing, unreadable, or lacks the columns the loader needs.
    """
    import pandas as pd

    path = _tracks_csv(metadata_root)
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        raise DataFileError(f"{path} cannot be read as FMA's tracks.csv: {exc}") from exc
    missing = [".".join(c) for c in _COLUMNS if c not in tracks.columns]
    if missing:
        raise DataFileError(f"{path} lacks the columns {missing}; expected FMA's tracks.csv, "
                            "whose header has three rows (group, name, track_id).")
    try:
        tracks.index = tracks.index.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise DataFileError(f"{path}: the first column must be the integer track_id.") from exc
    return tracks


def _audio_dir(root: Path, subset: str) -> Path:
    for folder in (root / f"fma_{subset}", root):
        if folder.is_dir() and any(p.is_dir() and len(p.name) == 3 and p.name.isdigit()
                                   for p in folder.iterdir()):
            return folder
    raise DataFileError(f"no FMA audio under {root}; expected "
                        f"{root}/fma_{subset}/<3 digits>/<6 digits>.mp3 (e.g. "
                        f"fma_{subset}/000/000002.mp3).")


def load_fma(root, metadata_root, *, subset="small", mel=None, on_error="skip",
             min_seconds=1.0, n_jobs=None, data_home=None, cache=True, lazy=False,
             verbose=None):
    """Load an FMA subset from a copy you hold, with its official split and artists.

    Parameters
    ----------
    root : str or path-like
        The folder holding ``fma_<subset>/`` (or that folder itself).
    metadata_root : str or path-like
        The folder holding ``fma_metadata/tracks.csv``, that folder, or the file.
    subset : {"small", "medium", "large", "full"}, default="small"
        Tracks whose ``set.subset`` is this one or a smaller one, as FMA defines them.
    mel : MelSpectrogram or None, default=None
    on_error : {"skip", "raise"}, default="skip"
        Some FMA mp3 files are known to be broken or to hold under a second of audio:
        by default such files, and tracks whose file is missing, are left out with a
        warning and listed in ``failures``; ``"raise"`` makes the first one an error.
    min_seconds : float or None, default=1.0
        Files with less audio are counted as failures ("too short").
    n_jobs, data_home, cache, lazy, verbose
        As in :func:`load_audio_folder`.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_audio_folder` returns, with ``target`` the ``genre_top``, ``groups``
        the ``artist.id``, ``track_ids`` the FMA track ids and ``split``: ``"train"``,
        ``"validation"`` or ``"test"`` (:func:`official_splits` makes the parts). Tracks
        without a ``genre_top`` (only in large and full) are left out and counted in
        ``DESCR``.

    Examples
    --------
    >>> from sklearn_genre.datasets import load_fma
    >>> fma = load_fma("~/data/fma", "~/data/fma", subset="small", n_jobs=-1)  # doctest: +SKIP
    >>> fma.data[0].shape, fma.target[0], fma.split[0]  # doctest: +SKIP
    ((96, 1407), 'Hip-Hop', 'train')
    """
    if subset not in FMA_SUBSETS:
        raise ValueError(f"subset must be one of {FMA_SUBSETS}, got {subset!r}.")
    check_options(on_error=on_error, mel=mel, min_seconds=min_seconds, cache=cache, lazy=lazy)
    root = check_root(root, f"a folder holding fma_{subset}/<3 digits>/<6 digits>.mp3")
    tracks = read_fma_tracks(metadata_root)
    folder = _audio_dir(root, subset)
    rank = {name: k for k, name in enumerate(FMA_SUBSETS[:3])}
    in_subset = (np.ones(len(tracks), dtype=bool) if subset == "full" else
                 tracks[("set", "subset")].map(rank).le(rank[subset]).to_numpy())
    rows = tracks[in_subset]
    genre = rows[("track", "genre_top")]
    n_no_genre = int(genre.isna().sum())
    rows = rows[genre.notna()]
    entries, missing = [], []
    for track_id, label, split, artist in zip(
            rows.index, rows[("track", "genre_top")], rows[("set", "split")],
            rows[("artist", "id")]):
        name = f"{int(track_id):06d}"
        path = folder / name[:3] / f"{name}.mp3"
        if not path.is_file():
            missing.append((str(path), "missing"))
            continue
        entries.append(AudioEntry(path=path, target=str(label), track_id=int(track_id),
                                  # a track without artist id is its own group
                                  group=int(artist) if artist == artist else -int(track_id),
                                  split=_SPLIT_NAMES.get(split)))
    if not entries:
        raise DataFileError(f"none of the {len(rows)} tracks of subset {subset!r} in "
                            f"{_tracks_csv(metadata_root)} has its mp3 under {folder} (e.g. "
                            f"{missing[0][0] if missing else '-'}); is it the right subset?")
    header = (f"FMA {subset} from {folder}: {len(rows)} tracks with a genre_top in "
              f"tracks.csv ({n_no_genre} without one left out), {len(missing)} of them "
              f"without their mp3.\n{_CITATION}")
    group_note = ("groups: FMA's artist.id (minus the track id for a track without one). "
                  "split: FMA's official set.split (training -> 'train', validation, test), "
                  "artist-filtered by FMA.")
    return collection_bunch(
        entries, name=f"FMA {subset}", header=header, mel=mel, on_error=on_error,
        min_seconds=min_seconds, n_jobs=n_jobs, data_home=data_home, cache=cache, lazy=lazy,
        verbose=verbose, failures=missing, with_split=True, group_note=group_note)
