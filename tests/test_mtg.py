import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from sklearn_genre import DataFileError, MelNormalizer, MelTrimmer
from sklearn_genre.datasets import (
    LazyMelList,
    load_mtg_jamendo,
    load_mtg_jamendo_splits,
    read_mtg_tsv,
    warn_group_overlap,
)

EXCERPT = Path(__file__).parent / "data" / "mtg-jamendo"
TRAIN_TSV = EXCERPT / "split-0" / "autotagging_genre-train.tsv"


def _write_dump(tsv_paths, mel_dir, rng, n_mels=96):
    """Generate float32 (96, n_frames) .npy files in the real layout (PATH .mp3 -> .npy)."""
    for tsv in tsv_paths:
        for row in read_mtg_tsv(tsv):
            path = mel_dir / row["path"].replace(".mp3", ".npy")
            path.parent.mkdir(parents=True, exist_ok=True)
            n_frames = int(rng.integers(200, 600))
            np.save(path, rng.normal(-40, 10, (n_mels, n_frames)).astype(np.float32))


@pytest.fixture
def dump(tmp_path, rng):
    mel_dir = tmp_path / "melspecs"
    _write_dump(sorted((EXCERPT / "split-0").glob("*.tsv")), mel_dir, rng)
    return mel_dir


def test_read_real_tsv_format():
    rows = read_mtg_tsv(TRAIN_TSV)
    assert len(rows) == 40
    assert rows[0]["track_id"] == "track_0000241" and rows[0]["artist_id"] == "artist_000005"
    assert rows[0]["path"] == "41/241.mp3" and rows[0]["duration"] == pytest.approx(340.1)
    assert all(t.startswith("genre---") for r in rows for t in r["tags"])
    assert max(len(r["tags"]) for r in rows) > 1  # variable number of tag columns


def test_load_single_label_lazy_and_pipeline(dump):
    bunch = load_mtg_jamendo(TRAIN_TSV, dump)
    rows = read_mtg_tsv(TRAIN_TSV)
    n_single = sum(1 for r in rows if len(r["tags"]) == 1)
    assert len(bunch.target) == n_single and isinstance(bunch.data, LazyMelList)
    assert len(bunch.groups) == len(bunch.track_ids) == len(bunch.album_ids) == n_single
    first = bunch.data[0]
    assert isinstance(first, np.memmap) and first.shape[0] == 96
    subset = bunch.data[np.array([0, 2])]
    assert isinstance(subset, LazyMelList) and len(subset) == 2
    out = MelNormalizer().fit_transform(MelTrimmer(300).fit_transform(bunch.data))
    assert out.shape == (n_single, 96, 300)
    for train, test in GroupKFold(2).split(bunch.data, bunch.target, bunch.groups):
        assert not set(bunch.groups[train]) & set(bunch.groups[test])


def test_classes_n_per_class_and_multilabel(dump):
    top = load_mtg_jamendo(TRAIN_TSV, dump, classes=2)
    counts = Counter(top.target)
    assert len(counts) == 2
    balanced = load_mtg_jamendo(TRAIN_TSV, dump, classes=list(counts), n_per_class=min(
        counts.values()), random_state=0)
    assert len(set(Counter(balanced.target).values())) == 1
    multi = load_mtg_jamendo(TRAIN_TSV, dump, single_label=False)
    assert all(isinstance(t, tuple) and t for t in multi.target)
    assert len(multi.target) == 40 and max(len(t) for t in multi.target) > 1
    with pytest.raises(ValueError, match=r"classes \['polka'\] have no tracks"):
        load_mtg_jamendo(TRAIN_TSV, dump, classes=["polka"])
    with pytest.raises(ValueError, match="category"):
        load_mtg_jamendo(TRAIN_TSV, dump, category="tempo")


def test_missing_and_corrupt_files(dump):
    rows = [r for r in read_mtg_tsv(TRAIN_TSV) if len(r["tags"]) == 1]
    missing = dump / rows[0]["path"].replace(".mp3", ".npy")
    missing.unlink()
    with pytest.raises(DataFileError, match=f"track {rows[0]['track_id']}: mel file not found"):
        load_mtg_jamendo(TRAIN_TSV, dump)
    corrupt = dump / rows[1]["path"].replace(".mp3", ".npy")
    corrupt.write_bytes(b"not a numpy file")
    with pytest.warns(UserWarning, match="skipped 2 tracks"):
        bunch = load_mtg_jamendo(TRAIN_TSV, dump, on_missing="skip")
    assert len(bunch.target) == len(rows) - 2
    wrong = dump / rows[2]["path"].replace(".mp3", ".npy")
    np.save(wrong, np.zeros((64, 10), dtype=np.float32))
    with pytest.raises(DataFileError, match="has 64 mel bands; expected 96"):
        load_mtg_jamendo(TRAIN_TSV, dump, on_missing="skip")
    with pytest.raises(DataFileError, match="metadata file not found"):
        load_mtg_jamendo(dump / "nope.tsv", dump)


def test_official_splits_and_predefined_split(dump, tmp_path):
    splits_dir = tmp_path / "splits"
    shutil.copytree(EXCERPT / "split-0", splits_dir / "split-0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the official split is artist-disjoint: no warning
        parts = load_mtg_jamendo_splits(splits_dir, dump, single_label=False)
    assert not set(parts.train.groups) & set(parts.test.groups)
    combined = parts.train_validation
    assert len(combined.target) == len(parts.train.target) + len(parts.validation.target)
    (train, valid), = list(combined.cv.split())
    assert len(train) == len(parts.train.target) and len(valid) == len(parts.validation.target)


def test_warn_group_overlap():
    with pytest.warns(UserWarning, match="1 groups .* appear in both train and test"):
        assert warn_group_overlap(["a", "b"], ["b", "c"]) == 1


def test_lazy_through_splitters_and_transformers(dump):
    from sklearn.utils import _safe_indexing

    from sklearn_genre._validation import LazyTracks

    bunch = load_mtg_jamendo(TRAIN_TSV, dump)
    fold = _safe_indexing(bunch.data, np.array([2, 0, 1]))  # what every splitter does
    assert isinstance(fold, LazyMelList) and len(fold) == 3
    np.testing.assert_array_equal(fold[1], bunch.data[0])
    norm = MelNormalizer().fit(bunch.data)  # streamed statistics
    eager = MelNormalizer().fit([np.asarray(t) for t in bunch.data])
    np.testing.assert_allclose(norm.mean_, eager.mean_, rtol=1e-5)
    lazy_out = norm.transform(fold)
    assert isinstance(lazy_out, LazyTracks)
    eager_out = eager.transform([np.asarray(t) for t in fold])
    for a, b in zip(lazy_out, eager_out):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert MelTrimmer(100).fit_transform(lazy_out).shape == (3, 96, 100)


def test_lazy_tracks_are_checked_when_read(dump):
    from sklearn_genre import SpectrogramError, check_spectrograms

    bunch = load_mtg_jamendo(TRAIN_TSV, dump)
    bad = Path(bunch.paths[2])
    arr = np.load(bad)
    arr[0, 0] = np.nan
    np.save(bad, arr)
    checked = check_spectrograms(bunch.data)  # track 0 is fine: no error yet
    checked[1]
    with pytest.raises(SpectrogramError, match="track 2 contains 1 NaN"):
        checked[2]
    with pytest.raises(SpectrogramError, match="track 2 contains 1 NaN"):
        MelTrimmer(50).fit_transform(bunch.data)
