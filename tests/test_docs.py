"""The docs site builds without warnings, and the example gallery runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_docs_site_builds_strict(tmp_path):
    if shutil.which("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    result = subprocess.run(["mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "CRNNClassifier" in api and "n_tracks, n_windows, n_mels" in api


@pytest.mark.parametrize("script", ["plot_training_and_confusion.py", "plot_genre_timeline.py"])
def test_examples_run_and_draw(script, tmp_path):
    pytest.importorskip("tinysoundfont")
    env = {**os.environ, "SKLEARN_GENRE_EXAMPLES_OUT": str(tmp_path),
           "SKLEARN_GENRE_DATA": str(tmp_path / "data"), "SKLEARN_GENRE_EXAMPLES_QUICK": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / script)],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    images = sorted(p.name for p in tmp_path.glob("*.png"))
    assert images and all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in images)


def test_benchmark_chart_example(tmp_path):
    pytest.importorskip("matplotlib")
    results = ROOT / "benchmarks" / "results" / "compare_models.json"
    env = {**os.environ, "SKLEARN_GENRE_EXAMPLES_OUT": str(tmp_path)}
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" /
                                                 "plot_benchmark.py")],
                            env=env, capture_output=True, text=True)
    assert results.exists()
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "example_benchmark.png").read_bytes()[:4] == b"\x89PNG"
