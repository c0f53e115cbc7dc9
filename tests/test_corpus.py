import hashlib
import json
import shutil
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("music21")
pytest.importorskip("tinysoundfont")

from sklearn_genre.datasets import (  # noqa: E402
    GENRE_INSTRUMENTS,
    INSTRUMENT_POOL,
    ClipVariation,
    installed_soundfonts,
    render_score_corpus,
    score_catalogue,
)
from sklearn_genre.datasets._corpus import (  # noqa: E402
    CORPUS_VERSION,
    default_classes,
    expected_frames,
)
from sklearn_genre.effects import ClipEffects, EffectRanges, add_noise, apply_effects  # noqa: E402

SMALL = dict(classes=["jig", "chorale"], n_per_class=3, clip_seconds=4.0, verbose=False)


def _clip_files(home):
    """The clip cache entries (the note events of the scores are cached beside them)."""
    return sorted((home / "score_corpus" / f"v{CORPUS_VERSION}").glob("*.npy"))


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
    files = _clip_files(tmp_path)
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
    victim = _clip_files(tmp_path)[0]
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
    assert len(_clip_files(tmp_path / "env_home")) == 1


def test_instrument_pool_is_shared_and_selectable(tmp_path):
    corpus = render_score_corpus(**{**SMALL, "n_per_class": 4}, instruments=[40, 73],
                                 data_home=tmp_path)
    assert set(corpus.instruments) <= {40, 73}


@pytest.mark.parametrize("kwargs, match", [
    ({"classes": ["polka"]}, "class 'polka' has no usable pieces"),
    ({"n_per_class": 0}, "n_per_class"),
    ({"clip_seconds": 0}, "clip_seconds"),
    ({"instruments": [200]}, "General-MIDI"),
    ({"dynamics": "loud"}, "dynamics must be one of"),
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


# --- timbre, effects and variations -------------------------------------------------

TINY = dict(n_per_class=2, clip_seconds=3.0, verbose=False)


def _bundled():
    import pretty_midi

    return str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")


def test_genre_tables_overlap_and_draws_stay_in_them(tmp_path):
    counts = {}
    for table in GENRE_INSTRUMENTS.values():
        for program in table:
            counts[program] = counts.get(program, 0) + 1
    assert min(counts.values()) >= 2  # no instrument identifies a class alone
    assert set(GENRE_INSTRUMENTS["chorale"]) & set(GENRE_INSTRUMENTS["reel"])
    assert set(GENRE_INSTRUMENTS["palestrina"]) & set(GENRE_INSTRUMENTS["jig"])
    corpus = render_score_corpus(classes=["jig", "chorale", "palestrina"], n_per_class=8,
                                 clip_seconds=3.0, instrumentation="genre",
                                 data_home=tmp_path, verbose=False)
    for label in ("jig", "chorale", "palestrina"):
        drawn = set(corpus.instruments[corpus.target == label])
        assert drawn <= set(GENRE_INSTRUMENTS[label]) and len(drawn) >= 2
    assert "typical of its class" in corpus.DESCR
    # restricting the tables keeps every other draw (pieces, tempi, starts) in place
    some = render_score_corpus(classes=["jig", "chorale", "palestrina"], n_per_class=8,
                               clip_seconds=3.0, instrumentation="genre",
                               instruments=[52, 19, 110, 73], data_home=tmp_path,
                               verbose=False)
    assert set(some.instruments) <= {52, 19, 110, 73}
    columns = ["piece_id", "tempo_factor", "start_fraction", "velocity_seed"]
    assert some.metadata[columns].equals(corpus.metadata[columns])
    with pytest.raises(ValueError, match="leaves class 'jig' no instrument"):
        render_score_corpus(classes=["jig"], instrumentation="genre", instruments=[52],
                            data_home=tmp_path, **TINY)


def test_effects_change_the_audio_but_keep_shape_and_finiteness(tmp_path):
    clean = render_score_corpus(**SMALL, data_home=tmp_path)
    wet = render_score_corpus(**SMALL, effects="random", data_home=tmp_path)
    assert [m.shape for m in wet.data] == [m.shape for m in clean.data]
    assert all(np.isfinite(m).all() and m.dtype == np.float32 for m in wet.data)
    assert all(np.abs(a - b).mean() > 1 for a, b in zip(clean.data, wet.data))
    assert list(wet.groups) == list(clean.groups)  # same pieces, effects added
    ranges = EffectRanges()
    for name in ("reverb_wet", "snr_db", "gain_db", "compression_ratio"):
        low, high = getattr(ranges, name)
        assert wet.metadata[f"effects.{name}"].between(low, high).all()
    again = render_score_corpus(**SMALL, effects="random", data_home=tmp_path)
    for a, b in zip(wet.data, again.data):
        np.testing.assert_array_equal(a, b)
    # reverb alone smears the notes: the quietest frames fill in
    y = np.zeros(12000, dtype=np.float32)
    y[::3000] = 1.0
    smeared = apply_effects(y, 12000, ClipEffects(reverb_seconds=0.8, reverb_wet=0.5, seed=1))
    assert smeared.shape == y.shape and np.count_nonzero(smeared) > 10 * np.count_nonzero(y)
    with pytest.raises(ValueError, match="EffectRanges.snr_db"):
        EffectRanges(snr_db=(40.0, 20.0))
    with pytest.raises(ValueError, match="effects must be None, 'random'"):
        render_score_corpus(**SMALL, effects="hall", data_home=tmp_path)


def test_noise_has_the_requested_snr(tmp_path):
    rng = np.random.default_rng(0)
    signal = np.sin(np.arange(24000) * 0.05).astype(np.float32) * 0.3
    for snr, color in ((20.0, 0.0), (10.0, 1.0), (3.0, 2.0)):
        noise = add_noise(signal, snr, color=color, rng=rng) - signal
        measured = 10 * np.log10(np.mean(signal.astype(float) ** 2) / np.mean(noise ** 2.0))
        assert measured == pytest.approx(snr, abs=0.05)
    base = dict(classes=["jig"], data_home=tmp_path, **TINY)
    clean = render_score_corpus(**base)
    floors = []
    for snr in (30.0, 10.0):
        noisy = render_score_corpus(**base, variation=ClipVariation(snr_db=snr))
        assert (noisy.metadata.snr_db == snr).all()
        floors.append(np.mean([np.percentile(m, 10) for m in noisy.data]))
    assert np.mean([np.percentile(m, 10) for m in clean.data]) < floors[0] < floors[1]


def test_transposition_moves_the_spectral_peak(tmp_path):
    import librosa

    base = dict(classes=["reel", "chorale"], n_per_class=2, clip_seconds=4.0, instruments=[73],
                data_home=tmp_path, verbose=False)
    ref = render_score_corpus(**base)
    band_hz = librosa.mel_frequencies(n_mels=98, fmin=0.0, fmax=6000.0)[1:-1]
    for semitones in (5, 12):
        up = render_score_corpus(**base, variation=ClipVariation(transpose=semitones))
        assert (up.metadata.transposition == semitones).all()
        shifts = []
        for a, b in zip(ref.data, up.data):
            # the loudest band of each frame (a flute's fundamental), frame by frame
            loud = (a.max(axis=0) > a.max() - 40) & (b.max(axis=0) > b.max() - 40)
            ratio = band_hz[b[:, loud].argmax(axis=0)] / band_hz[a[:, loud].argmax(axis=0)]
            shifts.append(np.median(12 * np.log2(ratio)))
        assert np.median(shifts) == pytest.approx(semitones, abs=1.0)


def test_tempo_variation_changes_the_onset_rate(tmp_path):
    import librosa

    base = dict(classes=["reel", "jig"], n_per_class=2, clip_seconds=6.0, instruments=[13],
                data_home=tmp_path, verbose=False)  # a xylophone: clean attacks

    def n_onsets(mel):
        envelope = librosa.onset.onset_strength(S=mel / 2, sr=12000, hop_length=256)
        return len(librosa.onset.onset_detect(onset_envelope=envelope, sr=12000,
                                              hop_length=256, wait=1, pre_max=1, post_max=1))

    ref = render_score_corpus(**base)
    fast = render_score_corpus(**base, variation=ClipVariation(tempo=1.5))
    np.testing.assert_allclose(ref.metadata.tempo_factor / fast.metadata.tempo_factor, 1.5)
    ratios = [n_onsets(b) / n_onsets(a) for a, b in zip(ref.data, fast.data)]
    assert 1.3 < np.mean(ratios) < 1.7


def test_eq_tilt_brightens_or_darkens(tmp_path):
    base = dict(classes=["chorale"], data_home=tmp_path, **TINY)
    ref = render_score_corpus(**base)

    def brightness(mels):  # high bands (about 3-6 kHz) against low ones (200-600 Hz)
        return np.mean([m[80:].mean() - m[3:9].mean() for m in mels])

    bright = render_score_corpus(**base, variation=ClipVariation(tilt_db_per_octave=3.0))
    dark = render_score_corpus(**base, variation=ClipVariation(tilt_db_per_octave=-3.0))
    # about 3 octaves apart, 3 dB per octave, in the mel's 20 log10(power) scale: ~18
    assert brightness(bright.data) - brightness(ref.data) > 8
    assert brightness(ref.data) - brightness(dark.data) > 8


def test_soundfont_choice_is_recorded_and_seeded(tmp_path):
    copy = tmp_path / "fonts" / "CopyOfTim.sf2"
    copy.parent.mkdir()
    shutil.copy(_bundled(), copy)
    base = dict(classes=["jig", "chorale"], n_per_class=6, clip_seconds=1.0, verbose=False,
                soundfonts=[_bundled(), str(copy)], data_home=tmp_path)
    first = render_score_corpus(**base, random_state=0)
    assert set(first.soundfonts) == {"TimGM6mb.sf2", "CopyOfTim.sf2"}
    assert list(first.metadata.soundfont) == list(first.soundfonts)
    again = render_score_corpus(**base, random_state=0)
    assert list(again.soundfonts) == list(first.soundfonts)
    other = render_score_corpus(**base, random_state=5)
    assert list(other.soundfonts) != list(first.soundfonts)
    # the draws leave the rest of the plan as without soundfonts
    plain = render_score_corpus(**{**base, "soundfonts": None}, random_state=0)
    assert list(plain.instruments) == list(first.instruments)
    assert set(plain.soundfonts) == {"TimGM6mb.sf2"}
    # one soundfont for every clip, as a variation
    forced = render_score_corpus(**base, variation=ClipVariation(soundfont=str(copy)))
    assert set(forced.soundfonts) == {"CopyOfTim.sf2"}


def test_soundfont_errors_name_the_file(tmp_path):
    missing = tmp_path / "nowhere.sf2"
    with pytest.raises(ValueError, match="no such file.*nowhere.sf2"):
        render_score_corpus(**SMALL, soundfonts=[str(missing)], data_home=tmp_path)
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"not a soundfont at all")
    with pytest.raises(ValueError, match="junk.sf2.*not a readable soundfont"):
        render_score_corpus(**SMALL, soundfonts=[str(junk)], data_home=tmp_path)
    with pytest.raises(ValueError, match="soundfonts must be None, 'installed'"):
        render_score_corpus(**SMALL, soundfonts="FluidR3_GM.sf2", data_home=tmp_path)
    with pytest.raises(ValueError, match="nowhere.sf2"):
        render_score_corpus(**SMALL, variation=ClipVariation(soundfont=str(missing)),
                            data_home=tmp_path)


def test_installed_without_any_falls_back_to_the_bundled_one(tmp_path, monkeypatch):
    from sklearn_genre.datasets import _soundfonts

    monkeypatch.setattr(_soundfonts, "SOUNDFONT_DIRS", (str(tmp_path / "empty"),))
    with pytest.warns(UserWarning, match="no General-MIDI soundfont found.*fluid-soundfont-gm"):
        corpus = render_score_corpus(classes=["jig"], soundfonts="installed",
                                     data_home=tmp_path, **TINY)
    assert set(corpus.soundfonts) == {"TimGM6mb.sf2"}
    # what it finds: one file per name, links resolved, fonts without GM programs skipped
    folder = tmp_path / "sf2"
    folder.mkdir()
    shutil.copy(_bundled(), folder / "Other.sf2")
    (folder / "default-GM.sf2").symlink_to(folder / "Other.sf2")
    shutil.copy(_bundled(), folder / "TimGM6mb.sf2")  # the bundled font's name
    (folder / "broken.sf2").write_bytes(b"RIFF")
    found, skipped = installed_soundfonts([folder])
    assert [Path(p).name for p in found] == ["TimGM6mb.sf2", "Other.sf2"]
    assert any("broken.sf2" in s for s in skipped)


def test_installed_soundfonts_render_when_present(tmp_path):
    found, _ = installed_soundfonts()
    if len(found) < 2:
        pytest.skip("no General-MIDI soundfont installed (e.g. apt-get install "
                    "fluid-soundfont-gm)")
    small = sorted(found, key=lambda p: Path(p).stat().st_size)[:2]  # quick to load
    corpus = render_score_corpus(classes=["jig"], n_per_class=4, clip_seconds=1.0,
                                 soundfonts=small, data_home=tmp_path, verbose=False)
    assert all(np.isfinite(m).all() and m.max() > -120 for m in corpus.data)
    assert set(corpus.soundfonts) <= {Path(p).name for p in small}


def test_cache_key_covers_every_new_field_and_keeps_old_entries(tmp_path):
    from sklearn_genre.datasets._corpus import CORPUS_VERSION, ClipPlan, _versions

    versions = _versions()
    plan = ClipPlan("jig", "ryans/X", "/x.abc", 40, 1.0, 0.5, 7, 4.0)
    # clips of the original corpus keep their cache entries
    original = {f.name: getattr(plan, f.name) for f in fields(plan)[:8]}
    payload = json.dumps({**original, "versions": versions, "corpus_version": CORPUS_VERSION},
                         sort_keys=True)
    assert plan.key(versions) == hashlib.sha256(payload.encode()).hexdigest()[:32]
    copy = tmp_path / "Copy.sf2"
    shutil.copy(_bundled(), copy)
    changed = {"soundfont": str(copy), "transposition": 1, "effects": ClipEffects(gain_db=-3.0),
               "snr_db": 20.0, "tilt_db_per_octave": 2.0, "metrical_dynamics": True}
    assert set(changed) == {f.name for f in fields(plan)[8:]}
    keys = {plan.key(versions)}
    for name, value in changed.items():
        keys.add(ClipPlan(**{**asdict(plan), name: value}).key(versions))
    assert len(keys) == 1 + len(changed)
    for name in ("reverb_wet", "snr_db", "seed"):
        effects = ClipEffects(**{name: 0.25 if name != "seed" else 3})
        keys.add(ClipPlan(**{**asdict(plan), "effects": effects}).key(versions))
    assert len(keys) == 1 + len(changed) + 3
    # a variation renders new entries, never a stale one; writes stay atomic
    render_score_corpus(classes=["jig"], data_home=tmp_path, **TINY)
    render_score_corpus(classes=["jig"], data_home=tmp_path, effects="random",
                        variation=ClipVariation(transpose=2, snr_db=20.0), **TINY)
    assert len(_clip_files(tmp_path)) == 4
    assert not list(tmp_path.rglob("*.tmp"))


def test_pieces_select_the_same_clips(tmp_path):
    base = dict(classes=["jig", "chorale"], n_per_class=4, clip_seconds=1.0, verbose=False,
                data_home=tmp_path)
    whole = render_score_corpus(**base)
    chosen = sorted(set(whole.groups))[::2]
    part = render_score_corpus(**base, pieces=chosen,
                               variation=ClipVariation(tempo=1.0))  # an identity variation
    keep = np.isin(whole.groups, chosen)
    assert list(part.track_ids) == list(whole.track_ids[keep])
    for a, b in zip(part.data, [m for m, k in zip(whole.data, keep) if k]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="pieces: none of the 1 given pieces"):
        render_score_corpus(**base, pieces=["ryans/NoSuchTune"])


@pytest.mark.parametrize("kwargs, match", [
    ({"tempo": 0}, "ClipVariation.tempo"),
    ({"transpose": 0.5}, "ClipVariation.transpose"),
    ({"snr_db": float("nan")}, "ClipVariation.snr_db"),
    ({"tilt_db_per_octave": 12}, "ClipVariation.tilt_db_per_octave"),
    ({"instruments": [300]}, "ClipVariation.instruments"),
])
def test_bad_variations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClipVariation(**kwargs)


def test_bad_instrumentation(tmp_path):
    with pytest.raises(ValueError, match="instrumentation must be one of"):
        render_score_corpus(**SMALL, instrumentation="orchestral", data_home=tmp_path)


def test_fast_kern_reader_matches_music21(catalogue):
    from sklearn_genre.datasets._scores import _kern_note_events, _note_events_music21

    rows = catalogue[catalogue.label == "palestrina"].iloc[[0, 700]]
    for location in rows.location:
        np.testing.assert_array_equal(_kern_note_events(Path(location)),
                                      _note_events_music21(location))


def test_accents_follow_the_notated_metre(catalogue):
    from sklearn_genre.datasets._scores import parse_note_events

    ok = catalogue[catalogue.status == "ok"]
    # a 6/8 jig: downbeats every 6 eighths (3 quarters), the half bar on the 4th eighth
    jig = ok[(ok.label == "jig") & (ok.metre == "6/8")].iloc[0]
    events = parse_note_events(jig.location)
    assert events.shape[1] == 4
    assert set(np.unique(events[:, 3])) <= {1.0, 0.5, 0.25, 0.125, 0.0625}
    downbeats = events[events[:, 3] == 1.0, 0]
    assert np.median(np.diff(downbeats)) == 3.0
    half_bars = events[events[:, 3] == 0.5, 0]
    # every half bar sits 1.5 quarters after a downbeat
    assert np.isin(half_bars - 1.5, downbeats).mean() > 0.9
    # a 2/4 reel: downbeats every 2 quarters, and most notes are weak sixteenths
    reel = ok[(ok.label == "reel") & (ok.metre == "2/4")].iloc[0]
    events = parse_note_events(reel.location)
    assert np.median(np.diff(events[events[:, 3] == 1.0, 0])) == 2.0
    values, counts = np.unique(events[:, 3], return_counts=True)
    assert values[counts.argmax()] == 0.125


def test_downbeats_are_rendered_louder():
    from sklearn_genre.datasets._soundfonts import bundled_soundfont, synthesize_events

    n = 32
    accents = np.tile([1.0, 0.125, 0.125, 0.125], n // 4)
    events = np.column_stack([np.arange(n) * 0.5, np.full(n, 0.5), np.full(n, 69), accents])
    note = int(0.25 * 24000)

    def onset_db(events):
        y = synthesize_events(events, program=0, soundfont=bundled_soundfont(),
                              seconds_per_ql=0.5, start_ql=0.0, clip_seconds=n * 0.25,
                              velocity_seed=0)
        head = y[: n * note].reshape(n, note)[:, : note // 2]
        db = 10 * np.log10(np.mean(head ** 2, axis=1))
        return db[accents == 1].mean() - db[accents < 1].mean()

    # velocity 106 against 71 with a linear velocity-to-amplitude player: 3.5 dB per
    # note, less where the tail of the louder note before sounds on (2.2 dB measured)
    assert 1.5 < onset_db(events) < 4.0
    # without the accent column every note has the same expected loudness
    assert abs(onset_db(events[:, :3])) < 1.0


def test_metrical_dynamics_is_an_option_of_its_own(tmp_path):
    flat = render_score_corpus(classes=["jig"], data_home=tmp_path, **TINY)
    metrical = render_score_corpus(classes=["jig"], data_home=tmp_path, **TINY,
                                   dynamics="metrical")
    # the same plan (pieces, starts, instruments), other velocities, their own cache entries
    np.testing.assert_array_equal(flat.track_ids, metrical.track_ids)
    assert len(_clip_files(tmp_path)) == 4
    assert not flat.metadata.metrical_dynamics.any() and metrical.metadata.metrical_dynamics.all()
    assert "no metrical accent" in flat.DESCR and "notated metre" in metrical.DESCR
    for a, b in zip(flat.data, metrical.data):
        assert a.shape == b.shape and np.abs(a - b).max() > 1.0


def test_notes_are_parsed_once_and_cached(tmp_path, monkeypatch):
    from sklearn_genre.datasets import _scores

    render_score_corpus(classes=["jig"], data_home=tmp_path, **TINY)
    _scores._events_in_memory.cache_clear()

    def fail(location):
        raise AssertionError(f"{location} parsed again")

    monkeypatch.setattr(_scores, "parse_note_events", fail)
    render_score_corpus(classes=["jig"], data_home=tmp_path, **TINY,
                        variation=ClipVariation(transpose=1))
