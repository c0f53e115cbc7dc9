"""Is the one-vs-rest ensemble ahead because of capacity? A wider single network, same folds.

Trains the default pipeline with a network about as large as the 7-model ensemble (conv
16/32 channels, LSTM hidden 32, dense 64) on the seed-0 folds of ``compare_models.py``
(840-clip score corpus, ``StratifiedGroupKFold(3, shuffle=True, random_state=0)``).

Usage::

    python benchmarks/check_capacity.py [--data-home DIR]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_genre import make_genre_pipeline
from sklearn_genre.datasets import render_score_corpus

WIDE = dict(clf__module__conv_channels=(16, 32), clf__module__hidden_size=32,
            clf__module__dense_size=64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "capacity.json"))
    args = parser.parse_args(argv)
    corpus = render_score_corpus(n_per_class=120, data_home=args.data_home, verbose=False)
    X, y, groups = corpus.data, corpus.target, corpus.groups
    scores, seconds = [], []
    for train, test in StratifiedGroupKFold(3, shuffle=True, random_state=0).split(X, y, groups):
        model = make_genre_pipeline(clf__random_state=0, clf__verbose=0, **WIDE)
        start = time.perf_counter()
        model.fit([X[i] for i in train], y[train])
        seconds.append(time.perf_counter() - start)
        scores.append(f1_score(y[test], model.predict([X[i] for i in test]), average="macro"))
    result = {"macro_f1_per_fold": [round(s, 4) for s in scores],
              "macro_f1": round(float(np.mean(scores)), 4),
              "macro_f1_std": round(float(np.std(scores)), 4),
              "fit_seconds": round(float(np.mean(seconds)), 1)}
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
