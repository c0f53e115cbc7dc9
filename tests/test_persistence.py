import json
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import sklearn_genre
from sklearn_genre import UnsafeModelError, make_baseline_pipeline, make_genre_pipeline

from .conftest import make_separable

SMALL = dict(window__n_windows=2, window__window_frames=32, clf__train_crop_frames=24,
             clf__max_epochs=3, clf__verbose=0, clf__random_state=0)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_separable(np.random.default_rng(0), n_tracks=40)
    return make_genre_pipeline(**SMALL).fit(list(X), y), X, y


def test_roundtrip_in_a_fresh_process(fitted, tmp_path):
    model, X, y = fitted
    path = sklearn_genre.save(model, tmp_path / "genre.sgm")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict_proba(list(X)))
    code = textwrap.dedent(f"""
        import numpy as np, sklearn_genre
        model = sklearn_genre.load({str(path)!r})
        X = np.load({str(tmp_path / 'X.npy')!r})
        np.testing.assert_array_equal(model.predict_proba(list(X)),
                                      np.load({str(tmp_path / 'expected.npy')!r}))
        print(list(model.classes_), list(model.predict(list(X[:2]))))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{['blues', 'rock']} {list(model.predict(list(X[:2])))}"
    loaded = sklearn_genre.load(path)
    assert loaded.get_params()["clf__train_crop_frames"] == 24
    assert len(loaded[-1].history_) == len(model[-1].history_)
    manifest = json.loads(zipfile.ZipFile(path).read("model.json"))
    assert manifest["python_packages"]["torch"] and manifest["python_packages"]["scikit-learn"]


def test_baseline_pipeline_roundtrip(tmp_path):
    X, y = make_separable(np.random.default_rng(1), n_tracks=30)
    model = make_baseline_pipeline().fit(list(X), y)
    loaded = sklearn_genre.load(sklearn_genre.save(model, tmp_path / "base.sgm"))
    np.testing.assert_array_equal(loaded.predict_proba(list(X)), model.predict_proba(list(X)))


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/sklearn_genre_pwned", "w"))


def test_pickle_files_are_refused_without_running_them(tmp_path):
    marker = "/tmp/sklearn_genre_pwned"
    import os

    if os.path.exists(marker):
        os.unlink(marker)
    evil = tmp_path / "model.joblib"
    evil.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(UnsafeModelError, match="joblib/pickle files can run code"):
        sklearn_genre.load(evil)
    assert not os.path.exists(marker)


def test_crafted_archive_naming_an_untrusted_type_is_refused(fitted, tmp_path):
    model, _, _ = fitted
    path = sklearn_genre.save(model, tmp_path / "genre.sgm")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("model.json"))
        arrays = {n: archive.read(n) for n in archive.namelist() if n != "model.json"}
    manifest["model"]["steps"][1][1]["__estimator__"] = "os.system"
    evil = tmp_path / "evil.sgm"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("model.json", json.dumps(manifest))
        for name, data in arrays.items():
            archive.writestr(name, data)
    with pytest.raises(UnsafeModelError, match="'os.system', which is not in the allowlist"):
        sklearn_genre.load(evil)
    # a pickled object array hidden among the arrays is refused by allow_pickle=False
    manifest = json.loads(zipfile.ZipFile(path).read("model.json"))
    hidden = tmp_path / "hidden.sgm"
    with zipfile.ZipFile(hidden, "w") as archive:
        archive.writestr("model.json", json.dumps(manifest))
        for name, data in arrays.items():
            if name != "arrays/0.npy":
                archive.writestr(name, data)
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.array([_Exploit()], dtype=object), allow_pickle=True)
        archive.writestr("arrays/0.npy", buffer.getvalue())
    with pytest.raises(ValueError, match="allow_pickle"):
        sklearn_genre.load(hidden)


def test_version_mismatch_warns(fitted, tmp_path):
    model, _, _ = fitted
    path = sklearn_genre.save(model, tmp_path / "genre.sgm")
    with zipfile.ZipFile(path) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files["model.json"])
    manifest["python_packages"]["torch"] = "1.0.0"
    files["model.json"] = json.dumps(manifest).encode()
    old = tmp_path / "old.sgm"
    with zipfile.ZipFile(old, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.warns(UserWarning, match="saved with other versions.*torch"):
        sklearn_genre.load(old)


def test_unsavable_models_fail_clearly_and_leave_no_file(tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    target = tmp_path / "rf.sgm"
    with pytest.raises(TypeError, match="not in the safe format's allowlist"):
        sklearn_genre.save(RandomForestClassifier(), target)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_failed_save_keeps_the_previous_file(fitted, tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    model, X, _ = fitted
    path = sklearn_genre.save(model, tmp_path / "genre.sgm")
    before = path.read_bytes()
    with pytest.raises(TypeError):
        sklearn_genre.save(RandomForestClassifier(), path)
    assert path.read_bytes() == before
