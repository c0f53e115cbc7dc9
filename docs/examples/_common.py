"""Shared settings of the example scripts: a small corpus, where figures go."""

import os
from pathlib import Path

#: Where the examples write their figures (the docs' images folder by default).
OUT = Path(os.environ.get("SKLEARN_GENRE_EXAMPLES_OUT", Path(__file__).parents[1] / "images"))

#: ``SKLEARN_GENRE_EXAMPLES_QUICK=1`` (the tests): a tiny corpus and two epochs, to check
#: that the scripts run and draw, not what they show.
QUICK = os.environ.get("SKLEARN_GENRE_EXAMPLES_QUICK") == "1"

#: A small, quick corpus: three styles, 24 clips each, 20 s clips.
CORPUS = dict(classes=["chorale", "jig", "reel"], n_per_class=6 if QUICK else 24,
              clip_seconds=8.0 if QUICK else 20.0, n_jobs=-1, verbose=False)

#: Training epochs of the examples' pipelines.
EPOCHS = 2 if QUICK else 30
