"""Interrupted training resumes to the same model as an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

TRAIN = textwrap.dedent("""
    import sys, numpy as np, torch
    torch.set_num_threads(1)
    from sklearn_genre import CRNNClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 16, 128)).astype(np.float32)
    y = np.array(["a", "b", "c"] * 32)
    X[y == "b", :4] += 1.0
    checkpoint = sys.argv[1] if sys.argv[1] != "none" else None
    clf = CRNNClassifier(max_epochs=int(sys.argv[2]), batch_size=8, patience=None,
                         random_state=0, verbose=0, train_crop_frames=96,
                         checkpoint_dir=checkpoint, checkpoint_every=1)
    clf.fit(X, y)
    np.save(sys.argv[3], clf.predict_proba(X))
    print(len(clf.history_))
""")


def _start(tmp_path, checkpoint, epochs, out):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    return subprocess.Popen([sys.executable, str(script), str(checkpoint), str(epochs),
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_killed_training_resumes_to_the_same_model(tmp_path):
    epochs = 12
    reference = _start(tmp_path, "none", epochs, tmp_path / "reference.npy")
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    checkpoint = tmp_path / "ckpt"
    victim = _start(tmp_path, checkpoint, epochs, tmp_path / "victim.npy")
    deadline = time.time() + 300
    done_epochs = 0
    while time.time() < deadline and done_epochs < 4:
        marker = next(iter(checkpoint.glob("*/state/complete")), None)
        if marker is not None and marker.exists():
            try:
                done_epochs = int(marker.read_text() or 0)
            except (OSError, ValueError):
                pass
        time.sleep(0.05)
    assert victim.poll() is None, "training finished before it could be interrupted"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "victim.npy").exists()
    fit_dir, = checkpoint.iterdir()  # one fit, one fingerprint folder
    saved = json.loads((fit_dir / "state" / "history.json").read_text()) \
        if (fit_dir / "state").exists() else \
        json.loads((fit_dir / "state.old" / "history.json").read_text())
    assert 4 <= len(saved) < epochs  # interrupted part-way

    resumed = _start(tmp_path, checkpoint, epochs, tmp_path / "resumed.npy")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert int(out.strip()) == epochs  # the history continues, no epoch twice
    # both trained in processes of their own: equal up to float32 rounding
    np.testing.assert_allclose(np.load(tmp_path / "resumed.npy"),
                               np.load(tmp_path / "reference.npy"), rtol=0, atol=1e-5)


def test_checkpoint_every_n_epochs_and_complete_run(tmp_path, separable):
    from sklearn_genre import CRNNClassifier

    X, y = separable
    clf = CRNNClassifier(max_epochs=5, checkpoint_dir=tmp_path, checkpoint_every=2,
                         verbose=0, random_state=0, patience=None).fit(X, y)
    fit_dir, = tmp_path.iterdir()
    assert (fit_dir / "state" / "complete").read_text() == "5"  # last epoch saved too
    assert not list(fit_dir.glob(".state-*")) and not (fit_dir / "state.old").exists()
    again = CRNNClassifier(max_epochs=5, checkpoint_dir=tmp_path, checkpoint_every=2,
                           verbose=0, random_state=0, patience=None).fit(X, y)
    assert len(again.history_) == 5  # nothing left to train
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@pytest.fixture
def separable(rng):
    from .conftest import make_separable

    return make_separable(rng)


def test_parallel_fits_never_share_a_checkpoint(tmp_path, separable):
    """GridSearchCV's fits (other parameters, other folds) get their own state folders;
    only the same fit on the same data resumes."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from sklearn_genre import CRNNClassifier

    X, y = separable
    search = GridSearchCV(
        CRNNClassifier(max_epochs=2, checkpoint_dir=tmp_path, verbose=0, random_state=0,
                       patience=None),
        {"lr": [0.01, 0.003]}, cv=StratifiedKFold(2), n_jobs=2).fit(X, y)
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 2 * 2 + 1  # 2 candidates x 2 folds, plus the refit
    assert all((tmp_path / f / "state" / "complete").read_text() == "2" for f in folders)
    refit = CRNNClassifier(max_epochs=2, checkpoint_dir=tmp_path, verbose=0, random_state=0,
                           patience=None, lr=search.best_params_["lr"]).fit(X, y)
    assert len(list(tmp_path.iterdir())) == len(folders)  # resumed the refit's state
    np.testing.assert_array_equal(refit.predict_proba(X),
                                  search.best_estimator_.predict_proba(X))
