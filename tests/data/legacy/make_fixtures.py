"""Make the legacy model fixtures: models saved by sklearn_genre 0.1.0 (commit b503743).

Run once with that release from the repository root (``python
tests/data/legacy/make_fixtures.py``); the files it wrote are committed and
tests/test_legacy.py checks that they still load and predict the same.
"""

import numpy as np


def main():
    from sklearn_genre import make_genre_pipeline, make_tagging_pipeline, save

    rng = np.random.default_rng(0)
    lengths = [600, 420, 800, 390, 500, 700, 450, 650, 380, 900, 560, 610]
    X = [rng.normal(-40, 10, (96, n)).astype(np.float32) for n in lengths]
    y = np.array(["jazz", "rock", "folk"] * 4, dtype=object)
    for track, label in zip(X, y):
        track[:20, ::{"jazz": 3, "rock": 4, "folk": 6}[label]] += 15
    params = {"clf__max_epochs": 15, "clf__verbose": 0, "clf__random_state": 0}
    pipe = make_genre_pipeline(**params).fit(X, y)
    tags = [(label, "live") if i % 2 else (label,) for i, label in enumerate(y)]
    tagger = make_tagging_pipeline(**params).fit(X, tags)
    save(pipe, "tests/data/legacy/pipeline-0.1.0.sgm")
    save(tagger, "tests/data/legacy/tagger-0.1.0.sgm")
    queries = np.random.default_rng(1).normal(-40, 10, (4, 96, 380)).astype(np.float32)
    queries[:2, :20, ::3] += 15
    np.savez("tests/data/legacy/expected-0.1.0.npz", proba=pipe.predict_proba(queries),
             tag_proba=tagger.predict_proba(queries),
             classes=np.array(pipe.classes_, dtype=str),
             tags=np.array(tagger.classes_, dtype=str))


if __name__ == "__main__":
    main()
