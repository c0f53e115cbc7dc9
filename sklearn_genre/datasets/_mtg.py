"""MTG-Jamendo: metadata TSVs and mel-spectrogram dumps in the dataset's layout.

The TSV format is ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...``: tab-separated
with a variable number of tag columns written ``category---tag``. The mel of a track
is the ``.npy`` at ``PATH`` with ``.mp3`` replaced by ``.npy``, float32 ``(96, n_frames)``.
Nothing is downloaded: point the loader at files you have.
"""

from __future__ import annotations

import mmap
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch, check_random_state

from .._lazy import WindowFiles
from ..exceptions import DataFileError

__all__ = [
    "load_mtg_jamendo",
    "load_mtg_jamendo_splits",
    "read_mtg_tsv",
    "warn_group_overlap",
    "LazyMelList",
]

CATEGORIES = ("genre", "mood/theme", "instrument", "all")


def read_mtg_tsv(tsv_path):
    """Read an MTG-Jamendo metadata TSV.

    Parameters
    ----------
    tsv_path : str or path-like

    Returns
    -------
    rows : list of dict
        One dict per track: ``track_id``, ``artist_id``, ``album_id``, ``path``,
        ``duration`` (float seconds) and ``tags`` (list of ``category---tag`` strings).
    """
    tsv_path = Path(tsv_path)
    if not tsv_path.is_file():
        raise DataFileError(f"metadata file not found: {tsv_path}")
    rows = []
    with open(tsv_path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if header[:5] != ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION"]:
            raise DataFileError(
                f"{tsv_path} does not start with the MTG-Jamendo header "
                f"TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS; got {header[:5]}"
            )
        for line_no, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5:
                if line.strip():
                    raise DataFileError(f"{tsv_path}:{line_no}: expected at least 5 "
                                        f"tab-separated columns, got {len(fields)}")
                continue
            try:
                duration = float(fields[4])
            except ValueError as exc:
                raise DataFileError(f"{tsv_path}:{line_no}: DURATION {fields[4]!r} is not a "
                                    "number") from exc
            rows.append({"track_id": fields[0], "artist_id": fields[1], "album_id": fields[2],
                         "path": fields[3], "duration": duration,
                         "tags": [t for t in fields[5:] if t]})
    return rows


class LazyMelList(Sequence, WindowFiles):
    """A list of mel-spectrograms that loads each track only when it is accessed.

    Indexing with an integer returns the track (memory-mapped when ``mmap=True``);
    indexing with a slice or an array of indices returns another ``LazyMelList``, so
    scikit-learn's splitters and the package's transformers work on dumps larger than
    memory.

    Parameters
    ----------
    paths : sequence of str
        ``.npy`` files, one per track.
    mmap : bool, default=True
    n_mels : int or None, default=96
        Expected number of mel bands; a file with another number is an error naming it.
    time_major : bool, default=False
        The files hold ``(n_frames, n_mels)`` arrays (as written by
        :func:`to_time_major`); tracks are still returned as ``(n_mels, n_frames)``
        (transposed views), and a window of frames is one contiguous block on disk.
    """

    def __init__(self, paths, *, mmap: bool = True, n_mels: int | None = 96,
                 time_major: bool = False):
        self.paths = [str(p) for p in paths]
        self.mmap = mmap
        self.n_mels = n_mels
        self.time_major = time_major
        self._headers = {}  # path -> parsed .npy header, filled as files are read

    def __getstate__(self):  # headers are re-read in each process (worker), not shipped
        return {**self.__dict__, "_headers": {}}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_headers", {})

    def __len__(self):
        return len(self.paths)

    @property
    def shape(self):
        """``(n_tracks,)``: lets scikit-learn's splitters index it without loading tracks."""
        return (len(self.paths),)

    def _subset(self, paths):
        return LazyMelList(paths, mmap=self.mmap, n_mels=self.n_mels,
                           time_major=self.time_major)

    def __getitem__(self, index):
        if isinstance(index, tuple) and len(index) == 2 and index[1] is Ellipsis:
            index = index[0]  # scikit-learn's _safe_indexing uses X[indices, ...]
        if isinstance(index, slice):
            return self._subset(self.paths[index])
        if isinstance(index, int | np.integer):
            return load_mel(self.paths[index], mmap=self.mmap, n_mels=self.n_mels,
                            time_major=self.time_major)
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return self._subset([self.paths[i] for i in index])

    def _header(self, path: str, size: int | None = None):
        """``(data offset, shape, dtype, fortran_order)`` of a ``.npy``, checked, cached.

        A cached header is re-read when the file's ``size`` no longer matches it.
        """
        header = self._headers.get(path)
        if header is not None and (size is None or size == header[4]):
            return header[:4]
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read(f)
                offset = f.tell()
                file_size = os.fstat(f.fileno()).st_size
        except FileNotFoundError as exc:
            raise DataFileError(f"mel file not found: {path}") from exc
        except (ValueError, OSError, EOFError) as exc:
            raise DataFileError(f"mel file {path} is corrupt or unreadable: {exc}") from exc
        _check_mel_header(path, shape, dtype, self.n_mels, self.time_major)
        if offset + int(np.prod(shape)) * dtype.itemsize > file_size:
            raise DataFileError(f"mel file {path} is truncated: its header promises "
                                f"{shape} {dtype} values.")
        self._headers[path] = (offset, shape, dtype, fortran_order, file_size)
        return offset, shape, dtype, fortran_order

    def track_shape(self, index: int) -> tuple:
        """``(n_mels, n_frames)`` of track ``index``, from its file's header only."""
        shape = self._header(self.paths[index])[1]
        return tuple(shape[::-1]) if self.time_major else tuple(shape)

    def _open(self, index: int):
        """``(fd, path, size, header)`` of track ``index``; errors name the file."""
        path = self.paths[index]
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise DataFileError(f"mel file not found: {path}") from exc
        except OSError as exc:
            raise DataFileError(f"mel file {path} is unreadable: {exc}") from exc
        try:
            size = os.fstat(fd).st_size
            return fd, path, size, self._header(path, size)
        except BaseException:
            os.close(fd)
            raise

    def read_windows(self, indices, starts, window_frames: int, out) -> None:
        """Copy windows of frames of several tracks into ``out``, reading only those frames.

        What :meth:`sklearn_genre.LazyWindows.read_batch` uses. Each file is opened
        once, its parsed header kept for the process. From a time-major copy, the
        windows of all the tracks are first asked for at once
        (``posix_fadvise(WILLNEED)``, one disk read per window, all in flight
        together), then each is read with one ``pread``; cold reads of the 10,000-track
        copy went from 380-400 to 1,100-1,450 tracks/s, because the kernel's
        readahead on a memory map pulled whole files (docs/scaling.md). Band-major
        files, where a window is a piece of every row, are memory-mapped (with the
        kernel's readahead). Windows are converted to ``out``'s dtype as they are
        copied.

        Parameters
        ----------
        indices : sequence of int [shape=(n,)]
        starts : sequence of array-like of int [shape=(n, n_windows)]
            Start frames of each track's windows (:meth:`track_shape` gives lengths).
        window_frames : int
        out : sequence of torch.Tensor or np.ndarray [shape=(n_windows, n_mels, \
window_frames)]
            One per track; any memory layout (a transposed view of time-major memory
            takes contiguous blocks from a time-major file).

        Raises
        ------
        DataFileError
            Naming the file: missing, unreadable or corrupt, not 2-D, wrong ``n_mels``,
            or shorter than a window now.
        """
        if not self.mmap:
            for index, track_starts, track_out in zip(indices, starts, out):
                path = self.paths[index]
                mel = load_mel(path, mmap=False, n_mels=self.n_mels,
                               time_major=self.time_major)
                _copy_windows(mel, track_starts, window_frames, track_out, path)
            return
        opened = []
        try:
            for index in indices:
                opened.append(self._open(int(index)))
            if self.time_major and hasattr(os, "posix_fadvise"):
                for (fd, _, _, (offset, shape, dtype, fortran)), track_starts in zip(
                        opened, starts):
                    row = shape[-1] * dtype.itemsize
                    for start in ([] if fortran else track_starts):
                        os.posix_fadvise(fd, offset + int(start) * row, window_frames * row,
                                         os.POSIX_FADV_WILLNEED)
            for (fd, path, size, header), track_starts, track_out in zip(opened, starts, out):
                offset, shape, dtype, fortran = header
                if self.time_major and not fortran and dtype.isnative:
                    _pread_windows(fd, path, offset, shape, dtype, track_starts,
                                   window_frames, track_out)
                else:
                    self._mapped_windows(fd, path, size, header, track_starts,
                                         window_frames, track_out)
        finally:
            for fd, *_ in opened:
                os.close(fd)

    def _mapped_windows(self, fd, path, size, header, starts, window_frames, out):
        offset, shape, dtype, fortran_order = header
        count = int(np.prod(shape))
        if count == 0:
            mel = np.empty(shape[::-1] if self.time_major else shape, dtype)
            return _copy_windows(mel, starts, window_frames, out, path)
        # copy-on-write: writable views for torch, never written, pages stay shared
        mapped = mmap.mmap(fd, size, access=mmap.ACCESS_COPY)
        try:
            mel = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
            mel = mel.reshape(shape[::-1]).T if fortran_order else mel.reshape(shape)
            _copy_windows(mel.T if self.time_major else mel, starts, window_frames, out, path)
            del mel
        finally:
            try:
                mapped.close()
            except BufferError:  # a view escaped (an exception's traceback): let GC unmap
                pass

    def __repr__(self):
        layout = ", time_major=True" if self.time_major else ""
        return f"LazyMelList({len(self)} tracks, mmap={self.mmap}{layout})"


def load_mel(path, *, mmap: bool = True, n_mels: int | None = 96,
             time_major: bool = False) -> np.ndarray:
    """Load one ``.npy`` mel-spectrogram, checking that it is a readable 2-D float array.

    Parameters
    ----------
    path : str or Path
    mmap : bool, default=True
    n_mels : int or None, default=96
    time_major : bool, default=False
        The file holds ``(n_frames, n_mels)``; the transposed view is returned.

    Returns
    -------
    mel : np.ndarray [shape=(n_mels, n_frames)]

    Raises
    ------
    DataFileError
        Naming the file: missing, unreadable or corrupt, not 2-D, wrong ``n_mels``.
    """
    try:
        mel = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError as exc:
        raise DataFileError(f"mel file not found: {path}") from exc
    except (ValueError, OSError, EOFError) as exc:
        raise DataFileError(f"mel file {path} is corrupt or unreadable: {exc}") from exc
    _check_mel_header(path, mel.shape, mel.dtype, n_mels, time_major)
    return mel.T if time_major else mel


def _check_mel_header(path, shape, dtype, n_mels, time_major) -> None:
    if len(shape) != 2 or dtype.kind != "f":
        expected = "(n_frames, n_mels)" if time_major else "(n_mels, n_frames)"
        raise DataFileError(f"mel file {path} holds a {dtype} array of shape {shape}; "
                            f"expected float {expected}.")
    bands = shape[1] if time_major else shape[0]
    if n_mels is not None and bands != n_mels:
        raise DataFileError(f"mel file {path} has {bands} mel bands; expected {n_mels}.")


def _check_starts(path, n_frames: int, starts, window_frames: int) -> None:
    if len(starts) and int(np.max(starts)) + window_frames > n_frames:
        raise DataFileError(f"mel file {path} has {n_frames} frames now: too short for a "
                            f"window of {window_frames} frames at {int(np.max(starts))} "
                            "(the file changed while reading?).")


def _pread_windows(fd, path, offset, shape, dtype, starts, window_frames, out) -> None:
    """Time-major windows with one ``pread`` each (pages asked for by prefetch)."""
    n_frames, n_mels = shape
    _check_starts(path, n_frames, starts, window_frames)
    stage = np.empty((len(starts), window_frames, n_mels), dtype)
    row = n_mels * dtype.itemsize
    for k, start in enumerate(starts):
        if os.preadv(fd, [stage[k]], offset + int(start) * row) != stage[k].nbytes:
            raise DataFileError(f"mel file {path} is truncated.")
    if isinstance(out, torch.Tensor):
        out.copy_(torch.from_numpy(stage).transpose(1, 2))
    else:
        out[...] = stage.transpose(0, 2, 1)


def _copy_windows(mel, starts, window_frames: int, out, path) -> None:
    """``out[k] = mel[:, s_k:s_k + window_frames]`` for every start ``s_k``."""
    _check_starts(path, mel.shape[1], starts, window_frames)
    if isinstance(out, torch.Tensor) and mel.dtype.isnative and mel.flags.writeable:
        mel = torch.from_numpy(mel)  # torch converts float16 4x faster than numpy
    elif isinstance(out, torch.Tensor):
        out = out.numpy()
    for k, start in enumerate(starts):
        out[k] = mel[:, int(start):int(start) + window_frames]


def _mel_path(mel_dir: Path, path: str) -> Path:
    return mel_dir / (path[:-4] + ".npy" if path.endswith(".mp3") else path)


def _category_tags(tags, category):
    if category == "all":
        return list(tags)
    prefix = f"{category}---"
    return [t[len(prefix):] for t in tags if t.startswith(prefix)]


def warn_group_overlap(groups_a, groups_b, *, names=("train", "test")) -> int:
    """Warn when a group (artist) sits on both sides of a split; return how many do.

    Parameters
    ----------
    groups_a, groups_b : array-like
        Group ids (e.g. ``ARTIST_ID``) of the two sides.
    names : tuple of str
        Names of the sides, for the message.

    Returns
    -------
    n_shared : int
    """
    shared = set(np.asarray(groups_a).tolist()) & set(np.asarray(groups_b).tolist())
    if shared:
        warnings.warn(
            f"{len(shared)} groups (artists) appear in both {names[0]} and {names[1]}, e.g. "
            f"{sorted(shared)[:3]}: scores on {names[1]} are optimistic. Use a grouped "
            "splitter (GroupKFold, StratifiedGroupKFold) or the official splits.",
            UserWarning, stacklevel=2,
        )
    return len(shared)


def load_mtg_jamendo(
    tsv_path,
    mel_dir,
    *,
    category: str = "genre",
    single_label: bool = True,
    classes=None,
    n_per_class: int | None = None,
    mmap: bool = True,
    on_missing: str = "raise",
    random_state=None,
    n_mels: int = 96,
):
    """Load MTG-Jamendo tracks (or a dump in its layout) as a Bunch.

    Parameters
    ----------
    tsv_path : str or path-like
        Metadata TSV (``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...``).
    mel_dir : str or path-like
        Root of the mel dump; a track's file is ``mel_dir / PATH`` with ``.mp3`` -> ``.npy``.
    category : {"genre", "mood/theme", "instrument", "all"}, default="genre"
        Tag category used as the target (``"all"`` keeps full ``category---tag`` names).
    single_label : bool, default=True
        Keep only tracks with exactly one tag of the category (as the original project
        did) and return one label per track; False returns a tuple of tags per track.
    classes : list of str, int or None
        Labels to keep, or the number of most frequent labels to keep.
    n_per_class : int or None
        Draw the same number of tracks per class (single-label only), as the original
        did to balance its data.
    mmap : bool, default=True
        Memory-map tracks: nothing is read until a track is used.
    on_missing : {"raise", "skip"}, default="raise"
        A missing or corrupt ``.npy``: an error naming the file and the track, or drop
        such tracks with one warning that counts them.
    random_state : int, RandomState or None
        Seeds the ``n_per_class`` draw.
    n_mels : int, default=96
        Expected mel bands; a file with another number is an error naming it.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``data``: :class:`LazyMelList` of ``np.ndarray [shape=(n_mels, n_frames_i)]``;
        ``target``: labels (tuples of tags when ``single_label=False``); ``groups``:
        artist ids; ``track_ids``; ``album_ids``; ``durations``; ``paths``; ``DESCR``.

    Examples
    --------
    >>> from sklearn_genre.datasets import load_mtg_jamendo
    >>> bunch = load_mtg_jamendo("autotagging_genre.tsv", "melspecs/",
    ...                          classes=11, n_per_class=300)  # doctest: +SKIP
    """
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}.")
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}.")
    if n_per_class is not None and not single_label:
        raise ValueError("n_per_class balances single-label data; use single_label=True.")
    mel_dir = Path(mel_dir)
    rows = read_mtg_tsv(tsv_path)
    n_read = len(rows)
    for row in rows:
        row["labels"] = _category_tags(row["tags"], category)
    rows = [r for r in rows if r["labels"]]
    if single_label:
        rows = [r for r in rows if len(r["labels"]) == 1]
    counts = Counter(label for r in rows for label in r["labels"])
    if classes is not None:
        if isinstance(classes, int | np.integer):
            keep = [label for label, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                    [:int(classes)]]
        else:
            keep = list(classes)
            unknown = [c for c in keep if c not in counts]
            if unknown:
                raise ValueError(f"classes {unknown} have no tracks in {tsv_path} for "
                                 f"category {category!r}.")
        keep = set(keep)
        if single_label:
            rows = [r for r in rows if r["labels"][0] in keep]
        else:
            for r in rows:
                r["labels"] = [t for t in r["labels"] if t in keep]
            rows = [r for r in rows if r["labels"]]

    n_skipped = 0
    checked = []
    for row in rows:
        path = _mel_path(mel_dir, row["path"])
        try:
            load_mel(path, mmap=True, n_mels=n_mels)  # header only: cheap
        except DataFileError as exc:
            wrong_bands = "mel bands" in str(exc)
            if on_missing == "raise" or wrong_bands:
                raise DataFileError(f"track {row['track_id']}: {exc}") from exc
            n_skipped += 1
            continue
        row["mel_path"] = str(path)
        checked.append(row)
    rows = checked
    if n_skipped:
        warnings.warn(f"skipped {n_skipped} tracks whose .npy file is missing or corrupt "
                      f"(on_missing='skip').", UserWarning, stacklevel=2)

    if n_per_class is not None:
        rng = check_random_state(random_state)
        by_class: dict[str, list] = {}
        for row in rows:
            by_class.setdefault(row["labels"][0], []).append(row)
        short = {c: len(v) for c, v in by_class.items() if len(v) < n_per_class}
        if short:
            raise ValueError(f"n_per_class={n_per_class} but some classes have fewer tracks: "
                             f"{short}.")
        rows = [by_class[c][i] for c in sorted(by_class)
                for i in np.sort(rng.choice(len(by_class[c]), n_per_class, replace=False))]

    if not rows:
        raise ValueError(f"no track of {tsv_path} is left after filtering (category="
                         f"{category!r}, single_label={single_label}, classes={classes}).")
    target = (np.array([r["labels"][0] for r in rows], dtype=object) if single_label
              else np.array([tuple(r["labels"]) for r in rows] + [()], dtype=object)[:-1])
    final_counts = Counter(r["labels"][0] for r in rows) if single_label else \
        Counter(t for r in rows for t in r["labels"])
    descr = (
        f"MTG-Jamendo ({Path(tsv_path).name}): {len(rows)} of {n_read} tracks, category "
        f"{category!r}, single_label={single_label}, {len(final_counts)} labels, "
        f"{len({r['artist_id'] for r in rows})} artists; {n_skipped} skipped.\n"
        f"Tracks per label: {dict(sorted(final_counts.items()))}.\n"
        "Metadata CC BY-NC-SA 4.0 (MTG-Jamendo dataset, Bogdanov et al. 2019); use `groups` "
        "(artists) for artist-disjoint splits."
    )
    return Bunch(
        data=LazyMelList([r["mel_path"] for r in rows], mmap=mmap, n_mels=n_mels),
        target=target,
        groups=np.array([r["artist_id"] for r in rows], dtype=object),
        track_ids=np.array([r["track_id"] for r in rows], dtype=object),
        album_ids=np.array([r["album_id"] for r in rows], dtype=object),
        durations=np.array([r["duration"] for r in rows]),
        paths=np.array([r["mel_path"] for r in rows], dtype=object),
        DESCR=descr,
    )


def load_mtg_jamendo_splits(splits_dir, mel_dir, *, split: int = 0, category: str = "genre",
                            **kwargs):
    """Load an official artist-disjoint split as train / validation / test.

    Parameters
    ----------
    splits_dir : str or path-like
        The dataset's ``data/splits`` folder, holding
        ``split-N/autotagging_<category>-{train,validation,test}.tsv``.
    mel_dir : str or path-like
    split : int, default=0
    category : str, default="genre"
    **kwargs
        Passed to :func:`load_mtg_jamendo` for every part.

    Returns
    -------
    splits : sklearn.utils.Bunch
        ``train``, ``validation``, ``test`` (each a Bunch as :func:`load_mtg_jamendo`
        returns) and ``train_validation``: train followed by validation, with ``cv``, a
        :class:`~sklearn.model_selection.PredefinedSplit` that makes GridSearchCV fit on
        train and score on validation.
    """
    name = "moodtheme" if category == "mood/theme" else category
    folder = Path(splits_dir) / f"split-{split}"
    parts = {}
    for part in ("train", "validation", "test"):
        parts[part] = load_mtg_jamendo(folder / f"autotagging_{name}-{part}.tsv", mel_dir,
                                       category=category, **kwargs)
    warn_group_overlap(parts["train"].groups, parts["test"].groups, names=("train", "test"))
    train, valid = parts["train"], parts["validation"]
    combined = Bunch(
        data=LazyMelList(list(train.data.paths) + list(valid.data.paths),
                         mmap=train.data.mmap, n_mels=train.data.n_mels),
        **{key: np.concatenate([train[key], valid[key]])
           for key in ("target", "groups", "track_ids", "album_ids", "durations", "paths")},
        cv=PredefinedSplit(np.r_[np.full(len(train.target), -1), np.zeros(len(valid.target))]),
    )
    return Bunch(**parts, train_validation=combined)
