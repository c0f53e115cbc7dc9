"""Model cards: saved in every .sgm file, read back without building the model."""

import json
import zipfile

import numpy as np
import pytest
from skorch.dataset import ValidSplit

import sklearn_genre
from sklearn_genre import data_summary, make_genre_pipeline, model_card, read_card
from sklearn_genre.card import CardError

from .conftest import make_separable

TINY = dict(window__n_windows=2, window__window_frames=32, clf__train_crop_frames=None,
            clf__module__channels=(4, 8), clf__module__pools=((2, 2), (2, 2)),
            clf__max_epochs=3, clf__module__hidden_size=8, clf__verbose=0,
            clf__random_state=0, clf__train_split=ValidSplit(0.2, stratified=True))


@pytest.fixture(scope="module")
def fitted():
    X, y = make_separable(np.random.default_rng(0), n_tracks=30, n_frames=64)
    groups = np.arange(30) // 2
    return make_genre_pipeline(**TINY).fit(list(X), y), X, y, groups


def test_card_saved_in_the_archive_with_the_given_facts(fitted, tmp_path):
    model, X, y, groups = fitted
    facts = {"data": data_summary(y, groups=groups, collection="toy tracks",
                                  split="all of them"),
             "scores": {"test_macro_f1": 0.875, "test_accuracy": 0.9},
             "command": "python train.py --seed 0"}
    path = sklearn_genre.save(model, tmp_path / "genre.sgm", card=facts)
    with zipfile.ZipFile(path) as archive:
        assert {"model.json", "card.json", "README.md"} <= set(archive.namelist())
        markdown = archive.read("README.md").decode()
    card = read_card(path)
    assert card == json.loads(json.dumps(card))  # plain JSON
    assert card["classes"] == ["blues", "rock"]
    assert card["data"]["counts"] == {"blues": 15, "rock": 15}
    assert card["data"]["n_groups"] == 15 and card["data"]["n_tracks"] == 30
    assert card["parameters"]["clf__lr"] == "0.001"
    assert card["parameters"]["window__window_frames"] == "32"
    assert card["parameters"]["clf__module"] == "sklearn_genre.engine.modules.ShortChunkCRNN"
    training = card["training"]
    assert training["epochs"] == 3 and training["fit_seconds"] > 0
    assert {"train_loss", "valid_loss", "valid_acc"} <= set(training)
    assert card["scores"]["test_macro_f1"] == 0.875
    for section in ("## Classes", "## Training data", "## Training", "## Held-out scores",
                    "## Intended use", "## Known limits", "## Parameters", "## Software"):
        assert section in markdown
    assert "python train.py --seed 0" in markdown and "| blues | 15 |" in markdown
    loaded = sklearn_genre.load(path)  # the card does not get in the way
    np.testing.assert_array_equal(loaded.predict_proba(list(X[:3])),
                                  model.predict_proba(list(X[:3])))


def test_default_card_and_no_card(fitted, tmp_path):
    model, X, _, _ = fitted
    card = read_card(sklearn_genre.save(model, tmp_path / "default.sgm"))
    assert card["data"] is None and card["scores"] is None and card["classes"]
    bare = sklearn_genre.save(model, tmp_path / "bare.sgm", card=False)
    assert read_card(bare) is None
    assert "card.json" not in zipfile.ZipFile(bare).namelist()
    sklearn_genre.load(bare)


def test_card_facts_are_checked_before_writing(fitted, tmp_path):
    model, _, y, _ = fitted
    with pytest.raises(CardError, match=r"card has keys \['score'\]"):
        sklearn_genre.save(model, tmp_path / "m.sgm", card={"score": 1.0})
    with pytest.raises(CardError, match="groups has 2 entries"):
        data_summary(y, groups=[1, 2])
    assert not (tmp_path / "m.sgm").exists()
    unfitted = model_card(make_genre_pipeline())
    assert unfitted["classes"] is None and unfitted["model"]["fitted"] is False
    summary = data_summary([("rock", "live"), ("jazz",), ("rock",)])
    assert summary["kind"] == "tags" and summary["counts"] == {"jazz": 1, "live": 1, "rock": 2}
