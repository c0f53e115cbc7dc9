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


def test_bench_speed_quick(tmp_path, capsys):
    out = tmp_path / "speed.json"
    results = _load("bench_speed").main(["--quick", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == results
    assert saved["train_clips_per_s"] > 0 and saved["inference_clips_per_s"] > 0
    assert saved["skorch_over_plain_ratio"] > 0  # timing goals live in the full benchmark
    assert "| skorch_over_plain_ratio |" in capsys.readouterr().out
