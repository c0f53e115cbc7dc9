"""The benchmark scripts run (in their --quick mode) and write their figures."""

import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name, *args):
    """Run a benchmark script as a user would; return the JSON it wrote (--out)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| " in result.stdout  # it printed its markdown table
    return json.loads(Path(args[list(args).index("--out") + 1]).read_text())


def test_bench_speed_quick(tmp_path, capsys):
    out = tmp_path / "speed.json"
    results = _load("bench_speed").main(["--quick", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == results
    assert saved["train_clips_per_s"] > 0 and saved["inference_clips_per_s"] > 0
    assert saved["skorch_over_plain_ratio"] > 0  # timing goals live in the full benchmark
    assert saved["float16_storage"]["max_abs_error_db"] < 0.07  # half a step of float16 at 64 dB
    assert set(saved["variants"]) == set(_load("bench_speed").VARIANTS)
    assert "| skorch_over_plain_ratio |" in capsys.readouterr().out


def test_bench_audio_quick(tmp_path):
    import pytest

    pytest.importorskip("tinysoundfont")
    results = _load("bench_audio").main(["--quick", "--out", str(tmp_path / "audio.json")])
    assert results["extraction_realtime_factor_one_core"] > 1
    assert results["predict_4min_track_seconds"] > 0


def test_bench_mtg_loader_quick(tmp_path):
    splits = Path(__file__).parent / "data" / "mtg-jamendo"
    # the excerpt has the real layout: split-0/autotagging_genre-*.tsv
    results = _run("bench_mtg_loader", "--quick", "--splits-dir", str(splits),
                   "--out", str(tmp_path / "mtg.json"))
    assert results["metadata_tracks"] == 70 and results["n_tracks"] == 20
    assert results["features_shape"] == [20, 192]


def test_compare_models_quick(tmp_path):
    import pytest

    pytest.importorskip("tinysoundfont")
    out = tmp_path / "compare.json"
    record = _run("compare_models", "--quick", "--data-home", str(tmp_path / "data"),
                  "--out", str(out))
    names = [r["model"] for r in record["results"]]
    assert names == ["crnn", "crnn_tuned", "ovr", "original", "baseline"]
    for row in record["results"]:
        assert 0 <= row["macro_f1"] <= 1 and row["fit_seconds"] >= 0 and row["n_runs"] == 1
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "| one-vs-rest ensemble of binary CRNNs |" in record["table"]


def test_compare_multilabel_quick(tmp_path):
    import pytest

    pytest.importorskip("tinysoundfont")
    record = _run("compare_multilabel", "--quick", "--data-home", str(tmp_path / "data"),
                  "--out", str(tmp_path / "ml.json"))
    assert [r["model"] for r in record["results"]] == ["multi-label CRNN (CRNNTagger)",
                                                       "one-vs-rest binary CRNNs"]
    assert len(record["tags"]) >= 2
    for row in record["results"]:
        assert 0 <= row["roc_auc"] <= 1 and 0 <= row["pr_auc"] <= 1


def test_bench_out_of_core_quick(tmp_path):
    results = _run("bench_out_of_core", "--quick", "--dump-dir", str(tmp_path / "dump"),
                   "--out", str(tmp_path / "ooc.json"))
    assert results["n_tracks"] == 24 and results["dump_gb"] >= 0
    for mode in ("out_of_core", "in_memory"):
        assert results[mode]["tracks_per_s"] > 0 and results[mode]["peak_rss_mb"] > 0
    assert results["throughput_ratio"] > 0


def test_profile_out_of_core_steps_quick(tmp_path):
    results = _run("profile_out_of_core_steps", "--quick", "--dump-dir", str(tmp_path / "d"),
                   "--out", str(tmp_path / "steps.json"))
    assert results["n_tracks"] == 16
    assert set(results["runs"]) == set(_load("profile_out_of_core_steps").VARIANTS)
    for runs in results["runs"].values():
        (run,) = runs
        assert run["epoch_s"] > 0 and run["inside_steps_s"] > 0
        # the epoch is the steps plus the waits between them (and the skorch bookkeeping)
        assert run["inside_steps_s"] + run["between_steps_s"] <= run["epoch_s"] + 1e-3


def test_bench_collections_quick(tmp_path):
    import pytest

    pytest.importorskip("soundfile")
    pytest.importorskip("psutil")
    out = tmp_path / "collections.json"
    # an earlier run's file: a rerun updates its sections in place, in the one file
    out.write_text(json.dumps({"loading": {"generated_1000x30s": {"cold_seconds": 30.0}},
                               "models": {"gtzan": []}, "machine": {}}))
    results = _run("bench_collections", "--quick", "--n-jobs", "1", "--out", str(out))
    loading = results["loading"]["generated_12x2s"]
    for phase in ("cold", "cached", "cached_lazy"):
        assert loading[f"{phase}_seconds"] > 0 and loading[f"{phase}_peak_rss_mb"] > 0
    rows = results["models"]["quick"]
    assert {"default", "band_stats_logreg"} <= {row["model"] for row in rows}
    for row in rows:
        assert 0 <= row["macro_f1"] <= 1 and row["n_train"] + row["n_test"] == 12
        assert "fold" in row["split"]  # grouped folds, never a random split
    saved = json.loads(out.read_text())
    assert set(saved) == {"loading", "models", "machine"} and saved["machine"]
    assert saved["loading"]["generated_1000x30s"] == {"cold_seconds": 30.0}  # kept
    assert set(saved["models"]) == {"gtzan", "quick"}
    assert sorted(tmp_path.iterdir()) == [out]  # no second file, no temporary left


def test_bench_predict_folder_quick(tmp_path):
    import pytest

    pytest.importorskip("soundfile")
    results = _run("bench_predict_folder", "--quick", "--out", str(tmp_path / "folder.json"))
    run = results["runs"]["2s"]
    assert run["n_files"] == run["csv_rows"] == 12 and run["cli_progress_shown"]
    assert run["ratio_excluding_decoding"] > 0 and run["folder_predict_tracks_per_s"] > 0


def test_robustness_quick(tmp_path):
    import shutil

    import numpy as np
    import pytest

    pytest.importorskip("tinysoundfont")
    pretty_midi = pytest.importorskip("pretty_midi")
    bundled = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    other = tmp_path / "OtherFont.sf2"  # a second soundfont family, whatever is installed
    shutil.copy(bundled, other)
    out = tmp_path / "robustness.json"
    results = _run("robustness", "--quick", "--data-home", str(tmp_path / "data"),
                   "--soundfonts", f"{bundled},{other}", "--out", str(out))
    conditions = _load("robustness").CONDITIONS
    assert results["conditions"] == conditions and not results["skipped"]
    assert {"unseen pieces", "unseen instruments", "unseen soundfont", "tempo -15 %",
            "pitch +2", "noise 10 dB SNR", "EQ tilt -3 dB/oct",
            "pitch -1, mels resampled"} <= set(conditions)
    n_classes = len(results["settings"]["classes"])
    for model in ("default", "baseline", "classic"):
        row = results["models"][model]
        assert set(row["macro_f1"]) == set(conditions)
        confusion = np.array(row["confusion_unseen_pieces"])  # every test clip, once
        assert confusion.shape == (n_classes, n_classes)
        assert confusion.sum() == results["n_test"]
        assert all(0 <= v <= 1 for v in row["macro_f1"].values())
        assert 0 <= row["train_accuracy"] <= 1 and row["fit_seconds"] >= 0
    held = results["held_out"]
    assert held["soundfont"] not in held["train_soundfonts"]
    assert not set(held["instruments"]) & set(held["train_instruments"])
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert "| unseen instruments |" in results["table"]


def test_robustness_holds_out_a_soundfont_family_and_instruments():
    import numpy as np

    module = _load("robustness")
    assert module.soundfont_family("/x/FluidR3_GM.sf2") == "fluidr3"
    assert module.soundfont_family("/y/FluidR3Mono_GM.sf3") == "fluidr3"
    assert module.soundfont_family("TimGM6mb.sf2") == "timgm6mb"
    rng = np.random.default_rng(0)
    train, unseen, reason = module.split_soundfonts(["a/TimGM6mb.sf2"], rng)
    assert train == ["a/TimGM6mb.sf2"] and unseen is None and "one soundfont family" in reason
    fonts = ["FluidR3_GM.sf2", "FluidR3Mono_GM.sf3", "OPL-3_FM_128M.sf2"]
    for seed in range(6):
        train, unseen, reason = module.split_soundfonts(fonts, np.random.default_rng(seed))
        assert reason is None and unseen not in train
        assert module.soundfont_family(unseen) not in map(module.soundfont_family, train)
    tables = {"a": {1: 1, 2: 1, 3: 1}, "b": {3: 1, 4: 1, 5: 1}}
    held = module.held_out_instruments(tables, rng)
    assert all(set(t) & set(held) and set(t) - set(held) for t in tables.values())
    mels = [np.random.default_rng(1).normal(-40, 10, (96, n)).astype(np.float32)
            for n in (50, 80)]
    same = module.resampled(mels, 0.0)
    assert [m.shape for m in same] == [(96, 50), (96, 80)] and same[0].dtype == np.float32
    np.testing.assert_allclose(same[1], mels[1], atol=1e-4)
    up = module.resampled([np.eye(96, 4, -40, dtype=np.float32) * 10], 12.0)[0]
    assert 63 <= int(up[:, 0].argmax()) <= 64  # band 40 (1176 Hz) an octave up: ~2352 Hz


def test_bench_corpus_quick(tmp_path):
    import pytest

    pytest.importorskip("tinysoundfont")
    results = _run("bench_corpus", "--quick", "--n-jobs", "1", "--out",
                   str(tmp_path / "corpus.json"))
    for phase in ("cold", "notes_cached", "cached"):
        assert results[phase]["n_clips"] == 4 and results[phase]["seconds"] > 0
    assert results["cached"]["seconds"] < results["cold"]["seconds"]


def test_bench_real_quick(tmp_path):
    import pytest

    module = _load("bench_real")
    if not (module.DEFAULT_SAMPLE / "manifest.csv").exists():
        pytest.skip("the shared real sample is not beside this checkout")
    out = tmp_path / "real.json"
    results = _run("bench_real", "--quick", "--models", "band_stats", "seed",
                   "--variant", "short=default:window__n_windows=2",
                   "--predict-windows", "1", "2",
                   "--cache-dir", str(tmp_path / "cache"), "--out", str(out))
    assert results["n_clips"] == 18 and len(results["classes"]) == 3
    assert set(results["models"]) == {"band_stats", "seed", "short"}
    for row in results["models"].values():
        assert len(row["runs"]) == 3 and 0 <= row["macro_f1"] <= 1
        assert 0 <= row["min_train_accuracy"] <= row["train_accuracy"] <= 1
    assert results["models"]["short"]["params"]["window__n_windows"] == "2"
    # the networks are rescored with each prediction window count; with the fitted count
    # (2) that is the run's own score, so the pipeline was put back as it was fitted
    for name in ("band_stats", "seed"):  # no windowing step to change
        assert "macro_f1_by_windows" not in results["models"][name]
        assert all("macro_f1_by_windows" not in run for run in results["models"][name]["runs"])
    for run in results["models"]["short"]["runs"]:
        assert set(run["macro_f1_by_windows"]) == {"1", "2"}
        assert abs(run["macro_f1_by_windows"]["2"] - run["macro_f1"]) < 1e-9
    assert set(results["models"]["short"]["macro_f1_by_windows"]) == {"1", "2"}


def test_bench_periodic_quick(tmp_path):
    out = tmp_path / "periodic.json"
    results = _run("bench_periodic", "--quick", "--out", str(out))
    assert set(results["models"]) == {"default", "seed", "band_stats"}
    assert all(0 <= row["macro_f1"] <= 1 for row in results["models"].values())


def test_bench_fit_time_quick(tmp_path):
    out = tmp_path / "fit_time.json"
    results = _run("bench_fit_time", "--quick", "--out", str(out))
    rows = results["presets"]
    assert set(rows) == {"default", "rhythm", "seed"}
    assert rows["default"]["ratio_to_default"] == 1.0
    # the default network does more work per window than the seed's (2-D, wider)
    assert rows["default"]["flops_per_window"] > rows["seed"]["flops_per_window"] > 0
    assert results["pipeline_vs_classifier"]["classifier_over_pipeline"] > 0
    layout = results["conv_layout"]
    for name in ("channels_last", "contiguous"):
        assert len(layout[f"{name}_fit_seconds"]) == len(layout[f"{name}_predict_seconds"])
        assert min(layout[f"{name}_fit_seconds"]) > 0
    assert layout["fit_speedup"] > 0 and layout["predict_speedup"] > 0
