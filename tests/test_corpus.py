import numpy as np
import pytest

pytest.importorskip("music21")
pytest.importorskip("tinysoundfont")

from sklearn_genre.datasets import INSTRUMENT_POOL, render_score_corpus, score_catalogue  # noqa: E402
from sklearn_genre.datasets._corpus import default_classes, expected_frames  # noqa: E402

SMALL = dict(classes=["jig", "chorale"], n_per_class=3, clip_seconds=4.0, verbose=False)


@pytest.fixture(scope="module")
def catalogue():
    return score_catalogue()


def test_catalogue_labels_come_from_real_metadata(catalogue):
    ok = catalogue[catalogue.status == "ok"]
    counts = ok.label.value_counts()
    assert counts["reel"] == 439 and counts["jig"] == 197 and counts["chorale"] == 371
    # a jig whose metre is 9/8 (a slip-jig metre) or duple contradicts its R: and is dropped
    bad_jigs = catalogue[(catalogue.label == "jig") & (catalogue.status != "ok")]
    assert len(bad_jigs) == 37 and set(bad_jigs.metre) == {"9/8", "2/4", "C|"}
    assert set(ok[ok.label == "jig"].metre) <= {"6/8", "12/8"}
    assert default_classes(catalogue) == ["chorale", "clog", "hornpipe", "jig", "palestrina",
                                          "reel", "strathspey"]


def test_render_small_corpus(tmp_path):
    corpus = render_score_corpus(**SMALL, data_home=tmp_path, random_state=0)
    n_frames = expected_frames(4.0)
    assert n_frames == 189
    assert len(corpus.data) == 6
    assert all(m.shape == (96, n_frames) and m.dtype == np.float32 for m in corpus.data)
    assert all(np.isfinite(m).all() and m.max() > -120 for m in corpus.data)  # not silent
    assert sorted(set(corpus.target)) == ["chorale", "jig"]
    assert len(corpus.groups) == len(corpus.track_ids) == 6
    assert set(corpus.instruments) <= set(INSTRUMENT_POOL)
    assert corpus.frame_rate == pytest.approx(46.875)
    assert "Ryan's Mammoth" in corpus.DESCR and corpus.failures == []
    # chorales are polyphonic: more simultaneous energy across bands than a solo jig
    chorale = np.mean([m.mean() for m, t in zip(corpus.data, corpus.target) if t == "chorale"])
    jig = np.mean([m.mean() for m, t in zip(corpus.data, corpus.target) if t == "jig"])
    assert chorale > jig


def test_deterministic_and_cached(tmp_path):
    first = render_score_corpus(**SMALL, data_home=tmp_path, random_state=0)
    files = sorted(tmp_path.rglob("*.npy"))
    assert len(files) == 6
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries
    mtimes = [f.stat().st_mtime_ns for f in files]
    again = render_score_corpus(**SMALL, data_home=tmp_path, random_state=0)
    assert [f.stat().st_mtime_ns for f in files] == mtimes  # read from cache, not rewritten
    for a, b in zip(first.data, again.data):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.track_ids, again.track_ids)
    other = render_score_corpus(**SMALL, data_home=tmp_path, random_state=1)
    assert not all(np.array_equal(a, b) for a, b in zip(first.data, other.data))


def test_corrupt_cache_entry_is_detected_and_rebuilt(tmp_path):
    first = render_score_corpus(**SMALL, data_home=tmp_path, random_state=0)
    victim = sorted(tmp_path.rglob("*.npy"))[0]
    victim.write_bytes(victim.read_bytes()[:100])  # truncated file
    with pytest.warns(UserWarning, match="1 corrupt cache entries were re-rendered"):
        again = render_score_corpus(**SMALL, data_home=tmp_path, random_state=0)
    for a, b in zip(first.data, again.data):
        # re-rendered in this process: the recipe is exact on one machine (BLAS pinned)
        np.testing.assert_array_equal(a, b)
    assert np.load(victim).shape == (96, 189)


def test_data_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_GENRE_DATA", str(tmp_path / "env_home"))
    render_score_corpus(classes=["reel"], n_per_class=1, clip_seconds=2.0, verbose=False)
    assert len(list((tmp_path / "env_home").rglob("*.npy"))) == 1


def test_instrument_pool_is_shared_and_selectable(tmp_path):
    corpus = render_score_corpus(**{**SMALL, "n_per_class": 4}, instruments=[40, 73],
                                 data_home=tmp_path)
    assert set(corpus.instruments) <= {40, 73}


@pytest.mark.parametrize("kwargs, match", [
    ({"classes": ["polka"]}, "class 'polka' has no usable pieces"),
    ({"n_per_class": 0}, "n_per_class"),
    ({"clip_seconds": 0}, "clip_seconds"),
    ({"instruments": [200]}, "General-MIDI"),
])
def test_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        render_score_corpus(**{**SMALL, **kwargs}, data_home=tmp_path)


def test_multilabel_tags_from_real_headers(catalogue, tmp_path):
    ok = catalogue[catalogue.status == "ok"].set_index("piece_id")
    lanigan = ok.loc["ryans/LanigansBallJig"]  # K: Em, M: 6/8
    assert lanigan.tags == ("jig", "compound", "minor", "monophonic")
    assert ok.loc["bach/bwv153.1"].tags == ("chorale", "duple", "minor", "polyphonic")
    assert ok.loc["bach/bwv269"].tags == ("chorale", "triple", "major", "polyphonic")
    assert all(t.startswith("palestrina") or t in ("duple", "triple", "polyphonic")
               for tags in ok[ok.label == "palestrina"].tags for t in tags)
    corpus = render_score_corpus(**SMALL, data_home=tmp_path)
    assert len(corpus.tags) == len(corpus.target)
    assert all(tags[0] == label for tags, label in zip(corpus.tags, corpus.target))
