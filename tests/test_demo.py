import json

import numpy as np
import pytest

pytest.importorskip("music21")
pytest.importorskip("tinysoundfont")
pytest.importorskip("matplotlib")

from sklearn_genre import read_card  # noqa: E402
from sklearn_genre.demo import group_holdout, instrument_holdout, run_demo  # noqa: E402


def test_group_holdout_is_group_disjoint_and_stratified():
    y = np.array(["a", "b"] * 40)
    groups = np.arange(80) // 2
    train, test = group_holdout(y, groups)
    assert not set(groups[train]) & set(groups[test])
    assert set(y[test]) == {"a", "b"}


def test_instrument_holdout_separates_instruments_and_pieces():
    instruments = np.tile([0, 6, 40, 73], 10)
    groups = np.arange(40) // 4
    train, test, train_pool, test_pool = instrument_holdout(instruments, groups)
    assert not set(instruments[train]) & set(instruments[test])
    assert not set(groups[train]) & set(groups[test])
    assert sorted(train_pool + test_pool) == [0, 6, 40, 73]


def test_instrument_holdout_keeps_every_class_on_both_sides():
    # class "a" is played by 0 and 6 only, class "b" by 40 and 73 only: a random half of
    # the pool could leave one class without training clips; with y it never does
    y = np.repeat(["a", "b"], 8)
    instruments = np.array([0, 6] * 4 + [40, 73] * 4)
    groups = np.arange(16)
    for seed in range(20):
        train, test, train_pool, _ = instrument_holdout(instruments, groups, y,
                                                        random_state=seed)
        assert set(y[train]) == {"a", "b"} and set(y[test]) == {"a", "b"}
        assert not set(instruments[train]) & set(instruments[test])
    with pytest.raises(ValueError, match="every class"):
        instrument_holdout(np.array([0] * 8 + [40] * 8), groups, y)


def test_demo_end_to_end_small(tmp_path):
    lines = []
    results = run_demo(out_dir=tmp_path / "out", n_per_class=6, data_home=tmp_path / "data",
                       n_jobs=1, grid={"clf__lr": [0.01]},
                       pipeline_params={"clf__max_epochs": 2}, log=lines.append)
    assert results["reload_identical"] is True
    assert (tmp_path / "out" / "genre.joblib").stat().st_size > 0
    assert (tmp_path / "out" / "genre.sgm").stat().st_size > 0
    assert (tmp_path / "out" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64," in (tmp_path / "out" / "report.html").read_text()
    card = read_card(tmp_path / "out" / "genre.sgm")
    assert card["data"]["n_tracks"] == results["n_train"]
    assert card["scores"]["test_macro_f1"] == results["crnn_test_macro_f1"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["n_clips"] == 42 and 0 <= saved["crnn_test_macro_f1"] <= 1
    text = "\n".join(map(str, lines))
    assert "Confusion matrix" in text and "precision" in text and "baseline" in text
