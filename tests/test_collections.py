"""Loaders of the audio collections users hold, on fixtures built here in each real layout."""

import csv
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.model_selection import PredefinedSplit, StratifiedGroupKFold  # noqa: E402

from sklearn_genre import DataFileError, MelSpectrogram  # noqa: E402
from sklearn_genre.datasets import (  # noqa: E402
    LazyMelList,
    load_audio_folder,
    load_ballroom,
    load_fma,
    load_gtzan,
    official_splits,
)

from .conftest import count_case  # noqa: E402

MP3 = "MP3" in soundfile.available_formats()
needs_mp3 = pytest.mark.skipif(not MP3, reason="this libsndfile does not write MP3")
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-sample"
KEYS = {"data", "target", "groups", "track_ids", "filenames", "failures", "DESCR"}


def _tone(seconds=1.0, sample_rate=22050, freq=440.0, channels=1):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def _write(path, seconds=1.0, sample_rate=22050, freq=440.0, channels=1):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"format": "MP3"} if path.suffix == ".mp3" else {}
    soundfile.write(path, _tone(seconds, sample_rate, freq, channels), sample_rate, **extra)
    return path


def _frames(seconds):  # the recipe's frame count at 12 kHz
    return int(np.ceil(round(seconds * 12000) / 256)) + 1


def _check_bunch(bunch):
    assert KEYS <= set(bunch)
    n = len(bunch.data)
    assert all(len(bunch[k]) == n for k in ("target", "groups", "track_ids", "filenames"))
    assert all(m.dtype == np.float32 and m.ndim == 2 and m.shape[0] == 96 for m in bunch.data)
    assert all(Path(f).is_absolute() for f in bunch.filenames)


@pytest.fixture
def folder(tmp_path):
    """rock: wav 22.05 kHz, flac 8 kHz stereo; jazz: au, mp3, a corrupt wav, non-audio."""
    root = tmp_path / "music"
    _write(root / "rock" / "a.wav", 1.0, 22050, 300)
    _write(root / "rock" / "live" / "b.flac", 1.0, 8000, 300, channels=2)
    _write(root / "jazz" / "c.au", 1.5, 22050, 1200)
    if MP3:
        _write(root / "jazz" / "d.mp3", 1.5, 44100, 1200)
    (root / "jazz" / "notes.txt").write_text("not audio")
    (root / "jazz" / ".DS_Store").write_bytes(b"\0\1")
    (root / "jazz" / "._c.au").write_bytes(b"macOS resource fork")
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "corrupt.wav").write_bytes(b"RIFF\x10\0\0\0WAVE garbage")
    return root


def test_audio_folder_formats_and_layout(folder, tmp_path):
    with pytest.warns(UserWarning, match=r"files missing or unreadable.*corrupt\.wav"), \
            pytest.warns(UserWarning, match=r"ignored 1 class folders without audio \['empty'\]"):
        data = load_audio_folder(folder, on_error="skip", data_home=tmp_path / "cache")
    _check_bunch(data)
    expected = ["jazz/c.au", "jazz/d.mp3", "rock/a.wav", "rock/live/b.flac"]
    assert list(data.track_ids) == [t for t in expected if MP3 or not t.endswith(".mp3")]
    assert list(data.target) == [t.split("/")[0] for t in data.track_ids]
    assert list(data.groups) == list(data.track_ids) and "its own group" in data.DESCR
    assert data.failures == [(str(folder / "broken" / "corrupt.wav"),
                              data.failures[0][1])] and "decode" in data.failures[0][1]
    shapes = dict(zip(data.track_ids, (m.shape for m in data.data)))
    assert shapes["rock/a.wav"] == shapes["rock/live/b.flac"] == (96, _frames(1.0))
    assert shapes["jazz/c.au"] == (96, _frames(1.5))
    # stereo 8 kHz and mono 22.05 kHz copies of one tone give nearly the same mel
    a, b = data.data[-2], data.data[-1]
    assert abs(int(np.argmax(a[:, 20])) - int(np.argmax(b[:, 20]))) <= 1
    if MP3:  # the mp3 holds the au's tone (a few frames of encoder delay aside)
        assert int(np.argmax(data.data[0][:, 40])) == int(np.argmax(data.data[1][:, 40]))
    with pytest.raises(DataFileError, match=r"corrupt\.wav: cannot decode.*on_error='skip'"), \
            pytest.warns(UserWarning, match="without audio"):
        load_audio_folder(folder, data_home=tmp_path / "cache")


def test_bad_files_and_options(tmp_path):
    root = tmp_path / "music"
    _write(root / "pop" / "ok.wav")
    _write(root / "pop" / "short.wav", seconds=0.3)
    soundfile.write(root / "pop" / "empty.wav", np.zeros(0, np.float32), 22050)
    soundfile.write(root / "pop" / "silent.flac", np.zeros(22050, np.float32), 22050)
    with pytest.warns(UserWarning, match="3 files missing or unreadable"):
        data = load_audio_folder(root, on_error="skip", min_seconds=0.5, cache=False)
    reasons = {Path(p).name: r for p, r in data.failures}
    assert list(data.track_ids) == ["pop/ok.wav"]
    assert "no audio samples" in reasons["empty.wav"] and "silent" in reasons["silent.flac"]
    assert reasons["short.wav"].startswith("too short: 0.3")
    for kwargs, error in [({"on_error": "ignore"}, ValueError), ({"mel": "mel"}, TypeError),
                          ({"lazy": True, "cache": False}, ValueError),
                          ({"min_seconds": -1}, ValueError), ({"groups": 3}, TypeError)]:
        with pytest.raises(error):
            load_audio_folder(root, **{"cache": False, "on_error": "skip", **kwargs})


def test_wrong_roots_say_what_was_expected(tmp_path):
    loose = tmp_path / "loose"
    _write(loose / "song.wav")
    (tmp_path / "empty_classes" / "rock").mkdir(parents=True)
    (tmp_path / "text_only" / "rock").mkdir(parents=True)
    (tmp_path / "text_only" / "rock" / "lyrics.txt").write_text("la la")
    cases = [(tmp_path / "missing", "does not exist"), (loose / "song.wav", "is a file"),
             (loose, "1 audio files but no class folders"),
             (tmp_path / "empty_classes", r"folders \['rock'\] hold no audio"),
             (tmp_path / "text_only", "no audio files in class folders")]
    for root, match in cases:
        with pytest.raises(DataFileError, match=match) as info:
            load_audio_folder(root, cache=False)
        assert "one sub-folder per class" in str(info.value)
    with pytest.raises(TypeError, match="root must be a folder path"):
        load_audio_folder(42)


def test_cache_is_keyed_by_content_and_reused(tmp_path, monkeypatch):
    from sklearn_genre.datasets import _audio_cache

    calls = []
    real = _audio_cache.load_audio_mel
    monkeypatch.setattr(_audio_cache, "load_audio_mel", lambda p: calls.append(p) or real(p))
    root = tmp_path / "music"
    for k, freq in enumerate((200, 400, 800)):
        _write(root / ("low" if freq < 500 else "high") / f"t{k}.wav", freq=freq)
    home = tmp_path / "cache"
    first = load_audio_folder(root, data_home=home)
    assert len(calls) == 3
    second = load_audio_folder(root, data_home=home, mel=MelSpectrogram())  # the same key
    assert len(calls) == 3
    assert all(np.array_equal(a, b) for a, b in zip(first.data, second.data))
    shutil.copy(root / "low" / "t0.wav", root / "low" / "renamed_copy.wav")  # same bytes
    _write(root / "high" / "t2.wav", freq=900)  # new bytes: a new entry
    third = load_audio_folder(root, data_home=home)
    assert len(calls) == 4 and calls[-1].endswith("t2.wav") and len(third.data) == 4
    entries = sorted((home / "audio_mels").glob("*/*.npy"))
    assert len(entries) == 4 and (entries[0].parent / "recipe.json").is_file()
    assert not list((home / "audio_mels").rglob("*.tmp"))  # atomic: no temporary left


def test_cache_survives_interruption_and_corruption(tmp_path, monkeypatch):
    root = tmp_path / "music"
    for k in range(3):
        _write(root / "a" / f"t{k}.wav", freq=300 + 100 * k)
    home = tmp_path / "cache"
    real_save = np.save

    def interrupted(handle, array, **kwargs):  # half the bytes, then Ctrl-C
        handle.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_audio_folder(root, data_home=home)
    assert not [p for p in (home / "audio_mels").rglob("*") if p.suffix in (".npy", ".tmp")]
    monkeypatch.setattr(np, "save", real_save)
    clean = load_audio_folder(root, data_home=home)
    entries = sorted((home / "audio_mels").glob("*/*.npy"))
    entries[0].write_bytes(entries[0].read_bytes()[:200])  # truncated
    np.save(entries[1], np.zeros((10, 5), np.float32))  # wrong shape
    np.save(entries[2], np.full((96, 48), np.nan, np.float32))  # not finite
    with pytest.warns(UserWarning, match="3 corrupt cache entries were re-computed"):
        again = load_audio_folder(root, data_home=home)
    assert all(np.array_equal(a, b) for a, b in zip(clean.data, again.data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio_folder(root, data_home=home)  # repaired: no warning


def test_groups_callable_mapping_and_csv(tmp_path):
    root = tmp_path / "music"
    names = {"rock": ["ann_1", "ann_2", "bob_1", "bob_2"], "jazz": ["cid_1", "cid_2", "dan_1",
                                                                     "dan_2"]}
    for label, stems in names.items():
        for k, stem in enumerate(stems):
            _write(root / label / f"{stem}.wav", seconds=0.5, freq=200 + 300 * k)
    home = tmp_path / "cache"
    by_call = load_audio_folder(root, groups=lambda p: p.stem.split("_")[0], data_home=home)
    assert sorted(set(by_call.groups)) == ["ann", "bob", "cid", "dan"]
    mapping = {f"{s}.wav": s.split("_")[0] for stems in names.values() for s in stems}
    assert list(load_audio_folder(root, groups=mapping, data_home=home).groups) == \
        list(by_call.groups)
    table = tmp_path / "artists.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "artist"])
        for label, stems in names.items():
            writer.writerows([f"{label}/{s}.wav", s.split("_")[0]] for s in stems[:-1])
    with pytest.raises(DataFileError, match=r"no group for 2 of 8 files, e\.g\. \['jazz/dan_2"):
        load_audio_folder(root, groups=table, data_home=home)
    with open(table, "a", newline="") as handle:
        csv.writer(handle).writerows([["jazz/dan_2.wav", "dan"], ["rock/bob_2", "bob"]])
    by_csv = load_audio_folder(root, groups=str(table), data_home=home)
    assert list(by_csv.groups) == list(by_call.groups) and "artists.csv" in by_csv.DESCR
    for train, test in StratifiedGroupKFold(2).split(by_csv.data, by_csv.target,
                                                     by_csv.groups):
        assert not set(by_csv.groups[train]) & set(by_csv.groups[test])
    table.write_text("a,b,c\nx,y,z\n")
    with pytest.raises(DataFileError, match="expected a 'path'"):
        load_audio_folder(root, groups=table, data_home=home)
    with pytest.raises(ValueError, match="groups returned None"):
        load_audio_folder(root, groups=lambda p: None, data_home=home)


def test_parallel_lazy_and_official_splits(tmp_path, monkeypatch):
    from sklearn_genre.datasets import _audio_cache

    monkeypatch.setattr(_audio_cache, "_PARALLEL_MIN_FILES", 4)  # workers even for 8 files
    root = tmp_path / "music"
    for k in range(8):
        _write(root / ("low" if k % 2 else "high") / f"t{k}.wav", seconds=0.5,
               freq=(200 if k % 2 else 2000) + 10 * k)
    home = tmp_path / "cache"
    serial = load_audio_folder(root, cache=False)
    parallel = load_audio_folder(root, n_jobs=2, data_home=home, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(serial.data, parallel.data))
    lazy = load_audio_folder(root, data_home=home, lazy=True)
    assert isinstance(lazy.data, LazyMelList)
    assert all(np.array_equal(a, b) for a, b in zip(serial.data, lazy.data))
    lazy.split = np.array(["train", "train", "validation", None, "test", "train",
                           "validation", "test"], dtype=object)
    parts = official_splits(lazy)
    assert [len(parts[p].target) for p in ("train", "validation", "test")] == [3, 2, 2]
    assert isinstance(parts.test.data, LazyMelList)
    combined = parts.train_validation
    assert isinstance(combined.cv, PredefinedSplit) and len(combined.target) == 5
    ((train, valid),) = combined.cv.split()
    assert list(combined.split[train]) == ["train"] * 3
    assert list(combined.split[valid]) == ["validation"] * 2
    with pytest.raises(ValueError, match="has no `split`"):
        official_splits(serial)


# GTZAN clip names from the shipped split lists and Sturm's index
GTZAN_CLIPS = {"blues.00029": "train", "blues.00030": "train", "classical.00030": "train",
               "classical.00059": "train", "blues.00000": "validation",
               "classical.00000": "validation", "blues.00012": "test",
               "classical.00011": "test", "classical.00042": None}


def _gtzan(root, layout="genres", ext="au"):
    for k, name in enumerate(GTZAN_CLIPS):
        genre = name.split(".")[0]
        _write(root / layout / genre / f"{name}.{ext}", seconds=1.0,
               freq=(250 if genre == "blues" else 1500) + 20 * k)
    (root / layout / "blues" / "README.txt").write_text("not a clip")
    return root


def test_gtzan_both_layouts_split_and_artists(tmp_path):
    home = tmp_path / "cache"
    au = _gtzan(tmp_path / "au")
    with pytest.warns(UserWarning, match="991 files missing or unreadable"):
        everything = load_gtzan(au, data_home=home)
    _check_bunch(everything)
    assert sorted(everything.track_ids) == sorted(GTZAN_CLIPS)
    assert dict(zip(everything.track_ids, everything.split)) == GTZAN_CLIPS
    artists = dict(zip(everything.track_ids, everything.groups))
    assert artists["blues.00000"] == "John Lee Hooker"
    assert artists["classical.00059"] == "unknown:classical.00059"
    assert "Sturm" in everything.DESCR and "Kereliuk" in everything.DESCR
    assert ("missing" in dict(everything.failures).values()
            and str(au / "genres" / "jazz" / "jazz.00054.au") in dict(everything.failures))

    wav = _gtzan(tmp_path / "wav", "genres_original", "wav")
    (wav / "genres_original" / "jazz").mkdir()
    (wav / "genres_original" / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF$\0\0\0WAVEfmt ")
    with pytest.warns(UserWarning, match="922 files missing or unreadable.*jazz.00054.wav"):
        filtered = load_gtzan(wav / "genres_original", split="fault-filtered", data_home=home)
    assert sorted(filtered.track_ids) == sorted(n for n, p in GTZAN_CLIPS.items() if p)
    reasons = dict(filtered.failures)
    assert "decode" in reasons[str(wav / "genres_original" / "jazz" / "jazz.00054.wav")]
    parts = official_splits(filtered)
    assert [len(parts[p].target) for p in ("train", "validation", "test")] == [4, 2, 2]
    assert not set(parts.train.groups) & set(parts.test.groups)  # artist-disjoint
    with pytest.raises(DataFileError, match="missing"):
        load_gtzan(au, on_error="raise", data_home=home)
    with pytest.raises(DataFileError, match=r"genres/<genre>/<genre>\.000NN\.au or"):
        load_gtzan(tmp_path / "cache")
    with pytest.raises(ValueError, match="split must be"):
        load_gtzan(au, split="random")


# The columns of FMA's tracks.csv, in its order: (group, names)
FMA_COLUMNS = [
    ("album", "comments date_created date_released engineer favorites id information listens "
              "producer tags title tracks type"),
    ("artist", "active_year_begin active_year_end associated_labels bio comments date_created "
               "favorites id latitude location longitude members name related_projects tags "
               "website wikipedia_page"),
    ("set", "split subset"),
    ("track", "bit_rate comments composer date_created date_recorded duration favorites "
              "genre_top genres genres_all information interest language_code license listens "
              "lyricist number publisher tags title"),
]


def _write_tracks_csv(path, rows):
    """FMA's three-row header (group, name, track_id); ``rows``: dicts of group.name."""
    columns = [(group, name) for group, names in FMA_COLUMNS for name in names.split()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([""] + [g for g, _ in columns])
        writer.writerow([""] + [n for _, n in columns])
        writer.writerow(["track_id"] + [""] * len(columns))
        for row in rows:
            writer.writerow([row["track_id"]] + [row.get(f"{g}.{n}", "") for g, n in columns])


def _fma_row(track_id, genre, artist, split="training", subset="small"):
    return {"track_id": track_id, "track.genre_top": genre, "artist.id": artist,
            "set.split": split, "set.subset": subset, "track.genres": "[21, 12]",
            "track.title": "a, title", "album.tags": "[]", "artist.name": f"artist {artist}"}


@needs_mp3
def test_fma_tracks_csv_split_and_broken_files(tmp_path):
    audio = tmp_path / "fma" / "fma_small"
    rows = [_fma_row(2, "Hip-Hop", 1), _fma_row(5, "Hip-Hop", 1, "validation"),
            _fma_row(10, "Pop", 6, "test"), _fma_row(140, "Folk", 54),
            _fma_row(1482, "Folk", 301), _fma_row(98565, "Rock", 7, "test"),
            _fma_row(3, "Hip-Hop", 1, subset="medium"), _fma_row(20, "Pop", 8),
            _fma_row(21, "", 8, subset="large")]
    _write_tracks_csv(tmp_path / "fma" / "fma_metadata" / "tracks.csv", rows)
    for track_id, freq in ((2, 300), (5, 320), (10, 1500), (140, 700), (3, 310)):
        _write(audio / f"{track_id:06d}"[:3] / f"{track_id:06d}.mp3", 1.5, 44100, freq, 2)
    _write(audio / "001" / "001482.mp3", 0.4, 44100)  # very short
    (audio / "098" / "098565.mp3").parent.mkdir()
    (audio / "098" / "098565.mp3").write_bytes(b"ID3\x03\0\0\0\0\0\0 broken")  # no frames
    home = tmp_path / "cache"
    with pytest.warns(UserWarning, match="3 files missing or unreadable"):
        fma = load_fma(tmp_path / "fma", tmp_path / "fma", data_home=home)
    _check_bunch(fma)
    assert list(fma.track_ids) == [2, 5, 10, 140]
    assert list(fma.target) == ["Hip-Hop", "Hip-Hop", "Pop", "Folk"]
    assert list(fma.groups) == [1, 1, 6, 54]
    assert list(fma.split) == ["train", "validation", "test", "train"]
    reasons = {Path(p).name: r for p, r in fma.failures}
    assert reasons["000020.mp3"] == "missing" and reasons["001482.mp3"].startswith("too short")
    assert "decode" in reasons["098565.mp3"] or "too short" in reasons["098565.mp3"]
    assert "Defferrard" in fma.DESCR
    (tmp_path / "fma" / "fma_medium").symlink_to(audio)
    with pytest.warns(UserWarning):
        medium = load_fma(tmp_path / "fma" / "fma_medium", tmp_path / "fma" / "fma_metadata"
                          / "tracks.csv", subset="medium", data_home=home)
    assert sorted(medium.track_ids) == [2, 3, 5, 10, 140]
    with pytest.raises(DataFileError, match="fma_small/<3 digits>/<6 digits>.mp3"):
        load_fma(tmp_path / "fma" / "fma_metadata", tmp_path / "fma", data_home=home)
    with pytest.raises(DataFileError, match="fma_metadata/tracks.csv"):
        load_fma(tmp_path / "fma", tmp_path / "nowhere", data_home=home)
    (tmp_path / "flat.csv").write_text("track_id,genre\n2,Hip-Hop\n")
    with pytest.raises(DataFileError, match="lacks the columns"):
        load_fma(tmp_path / "fma", tmp_path / "flat.csv", data_home=home)
    with pytest.raises(ValueError, match="subset must be"):
        load_fma(tmp_path / "fma", tmp_path / "fma", subset="tiny")


def test_ballroom_styles_and_rumba_merge(tmp_path):
    base = tmp_path / "BallroomData"
    files = {"ChaChaCha": ["Albums-Cafe_Paradiso-05", "Media-103402"],
             "Rumba-American": ["Albums-Latin_Jam-11"], "Rumba-International":
             ["Albums-Latin_Jam2-09"], "Rumba-Misc": ["Media-104218"],
             "Waltz": ["Albums-Fire-08"]}
    for k, (style, stems) in enumerate(files.items()):
        for stem in stems:
            _write(base / style / f"{stem}.wav", seconds=0.5, freq=300 + 200 * k)
    (base / "allBallroomFiles").write_text("ChaChaCha/Albums-Cafe_Paradiso-05.wav\n")
    (base / "nada").mkdir()
    home = tmp_path / "cache"
    merged = load_ballroom(tmp_path, data_home=home)
    _check_bunch(merged)
    assert sorted(set(merged.target)) == ["ChaChaCha", "Rumba", "Waltz"]
    assert list(merged.target).count("Rumba") == 3
    assert list(merged.groups) == list(merged.track_ids) and "own group" in merged.DESCR
    assert dict(zip(merged.track_ids, merged.albums))["Albums-Latin_Jam2-09"] == "Latin_Jam2"
    assert dict(zip(merged.track_ids, merged.albums))["Media-104218"] == "unknown:Media-104218"
    apart = load_ballroom(base, merge_rumba=False, data_home=home)
    assert sorted(set(apart.target)) == ["ChaChaCha", "Rumba-American",
                                         "Rumba-International", "Rumba-Misc", "Waltz"]
    with pytest.raises(DataFileError, match="BallroomData/<style>/"):
        load_ballroom(base / "nada")


_NAMES = st.text(alphabet="abAB._- 0", min_size=1, max_size=6).filter(
    lambda s: s not in (".", ".."))
_LEAVES = st.sampled_from(["tone.wav", "tone.FLAC", "tone2.wav", "x.mp3", "bad.wav",
                           "empty.au", "a.txt", ".DS_Store", "._tone.wav", "dir.wav/"])
_FOLDER = st.lists(_LEAVES, max_size=4)
_CLASS = st.one_of(_FOLDER, st.dictionaries(_NAMES, _FOLDER, max_size=2))
# class folders (some nested, some empty), or files loose in the root
_TREES = st.one_of(st.dictionaries(_NAMES, _CLASS, max_size=4), _FOLDER)


def _build(folder: Path, tree, tone_bytes):
    if isinstance(tree, list):
        for leaf in tree:
            if leaf.endswith("/"):
                (folder / leaf).mkdir(parents=True, exist_ok=True)
            elif leaf.startswith("tone") or leaf.startswith("._tone"):
                (folder / leaf).write_bytes(tone_bytes)
            else:
                (folder / leaf).write_bytes(b"" if "empty" in leaf else b"garbage " * 4)
        return
    for name, sub in tree.items():
        (folder / name).mkdir(exist_ok=True)
        _build(folder / name, sub, tone_bytes)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_TREES, on_error=st.sampled_from(["raise", "skip"]))
def test_any_layout_gives_a_bunch_or_a_clear_error(tree, on_error):
    count_case("load_audio_folder")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write(tmp / "tone.wav", seconds=0.2)
        root = tmp / "root"
        root.mkdir()
        _build(root, tree, (tmp / "tone.wav").read_bytes())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                data = load_audio_folder(root, on_error=on_error, data_home=tmp / "cache")
        except (DataFileError, ValueError) as exc:
            assert str(exc)
            return
        _check_bunch(data)
        assert len(data.data) >= 1 and all(Path(f).is_file() for f in data.filenames)
        assert all(isinstance(p, str) and reason for p, reason in data.failures)


_COLLECTION_NAMES = st.sampled_from(["genres", "genres_original", "blues", "rock", "Data",
                                     "BallroomData", "Waltz", "Rumba-Misc", "a b", ".hidden"])
_COLLECTION_LEAVES = st.sampled_from(["blues.00000.au", "tone.rock.00010.wav", "rock.00001.au",
                                      "tone-Albums-X-01.wav", "bad.wav", "a.txt", ".DS_Store",
                                      "._blues.00000.au"])
# near-miss layouts (the real top folders, some genre or style folders) or any nesting
_COLLECTION_TREES = st.one_of(
    st.dictionaries(st.sampled_from(["genres", "genres_original", "BallroomData", "a b"]),
                    st.dictionaries(_COLLECTION_NAMES, st.lists(_COLLECTION_LEAVES, min_size=1,
                                                                max_size=3),
                                    min_size=1, max_size=3), min_size=1, max_size=2),
    st.recursive(st.lists(_COLLECTION_LEAVES, max_size=3),
                 lambda sub: st.dictionaries(_COLLECTION_NAMES, sub, max_size=3), max_leaves=10))


def _build_collection(folder: Path, tree, tone_bytes):
    if isinstance(tree, list):
        for leaf in tree:  # "tone." and "tone-" prefixes mark decodable files
            name = leaf.removeprefix("tone.").removeprefix("tone-")
            good = leaf.startswith("tone") or leaf == "blues.00000.au"
            (folder / name).write_bytes(tone_bytes if good else b"garbage " * 4)
        return
    for name, sub in tree.items():
        (folder / name).mkdir(exist_ok=True)
        _build_collection(folder / name, sub, tone_bytes)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_COLLECTION_TREES, loader=st.sampled_from(["gtzan", "gtzan-filtered", "ballroom"]),
       on_error=st.sampled_from(["raise", "skip"]))
def test_collection_layouts_give_a_bunch_or_a_clear_error(tree, loader, on_error):
    count_case(f"load_{loader.split('-')[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write(tmp / "tone.wav", seconds=0.2)
        root = tmp / "root"
        root.mkdir()
        _build_collection(root, tree, (tmp / "tone.wav").read_bytes())
        options = {"on_error": on_error, "data_home": tmp / "cache"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                if loader == "ballroom":
                    data = load_ballroom(root, **options)
                else:
                    data = load_gtzan(root, split="fault-filtered" if "filtered" in loader
                                      else None, **options)
        except (DataFileError, ValueError) as exc:
            assert str(exc)
            return
        _check_bunch(data)
        assert len(data.data) >= 1
        if loader != "ballroom":
            assert len(data.split) == len(data.data)


needs_real = pytest.mark.skipif(not (REAL / "manifest.csv").is_file(),
                                reason=f"real-sample folder absent ({REAL})")


@pytest.fixture(scope="module")
def real_rows():
    import pandas as pd

    manifest = pd.read_csv(REAL / "manifest.csv")
    fma = manifest[manifest.collection == "fma_small"]
    # two artists in two genres, a few clips each: decoding stays under a few seconds
    return fma[fma.genre.isin(["Hip-Hop", "Experimental"])].head(4).to_dict("records")


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("real_cache")


@needs_real
@needs_mp3
def test_real_fma_layout_and_tracks_csv(real_rows, real_cache, tmp_path):
    audio = tmp_path / "fma_small" / "000"
    audio.mkdir(parents=True)
    for row in real_rows:  # links, never copies of the recordings
        (audio / Path(row["path"]).name).symlink_to(REAL / row["path"])
    splits = ["training", "test", "training", "validation"]
    _write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv",
                      [_fma_row(int(r["track_id"]), r["genre"], int(r["artist_id"]), s)
                       for r, s in zip(real_rows, splits)])
    fma = load_fma(tmp_path, tmp_path, data_home=real_cache)
    _check_bunch(fma)
    assert list(fma.track_ids) == [int(r["track_id"]) for r in real_rows]
    assert list(fma.target) == [r["genre"] for r in real_rows]
    assert list(fma.groups) == [int(r["artist_id"]) for r in real_rows]
    assert fma.failures == []
    for mel, row in zip(fma.data, real_rows):  # 44.1 kHz stereo mp3 -> 12 kHz mono
        assert abs(mel.shape[1] - _frames(row["duration_s"])) <= 3
        assert np.isfinite(mel).all() and -201 < mel.min() < mel.max() < 100
        assert mel.std() > 5  # music, not silence or a constant


@needs_real
@needs_mp3
def test_real_class_folder_with_artist_csv(real_rows, real_cache, tmp_path):
    root = tmp_path / "by_genre"
    table = tmp_path / "artists.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "artist"])
        for row in real_rows:
            link = root / row["genre"] / Path(row["path"]).name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(REAL / row["path"])
            writer.writerow([link.name, row["artist_id"]])
    data = load_audio_folder(root, groups=table, data_home=real_cache)
    _check_bunch(data)
    assert sorted(data.target) == sorted(r["genre"] for r in real_rows)
    by_name = {Path(r["path"]).name: str(r["artist_id"]) for r in real_rows}
    assert [by_name[Path(f).name] for f in data.filenames] == list(data.groups)
    assert all(os.path.islink(f) for f in data.filenames)  # the links, as given
