"""Models saved by the first release (0.1.0, before the estimators shared a base class)
still load and predict what they predicted when they were saved."""

import warnings
from pathlib import Path

import numpy as np
import pytest

import sklearn_genre

LEGACY = Path(__file__).parent / "data" / "legacy"


def _queries():
    X = np.random.default_rng(1).normal(-40, 10, (4, 96, 380)).astype(np.float32)
    X[:2, :20, ::3] += 15
    return X


@pytest.mark.parametrize("name, key", [("pipeline", "proba"), ("tagger", "tag_proba")])
def test_legacy_model_loads_and_predicts_the_same(name, key):
    expected = np.load(LEGACY / "expected-0.1.0.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # saved with other package versions
        model = sklearn_genre.load(LEGACY / f"{name}-0.1.0.sgm")
    classes = expected["classes" if name == "pipeline" else "tags"]
    assert [str(c) for c in model.classes_] == classes.tolist()
    # float32 network outputs: the same to rounding on any machine
    np.testing.assert_allclose(model.predict_proba(_queries()), expected[key], atol=1e-5)
