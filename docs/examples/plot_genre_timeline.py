"""A genre timeline over a long track.

Joins clips of three styles into one 60 s "medley" (a jig, a chorale, a reel), then uses
`genre_timeline` to show how the predicted style moves through it, window by window.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import CORPUS, EPOCHS, OUT  # noqa: E402

from sklearn_genre import genre_timeline, make_genre_pipeline  # noqa: E402
from sklearn_genre.datasets import render_score_corpus  # noqa: E402
from sklearn_genre.demo import group_holdout  # noqa: E402


def main(out_dir):
    corpus = render_score_corpus(**CORPUS)
    train, test = group_holdout(corpus.target, corpus.groups, n_splits=4)
    model = make_genre_pipeline(clf__max_epochs=EPOCHS, clf__random_state=0, clf__verbose=0)
    model.fit([corpus.data[i] for i in train], corpus.target[train])
    pieces = [next(i for i in test if corpus.target[i] == label)
              for label in ("jig", "chorale", "reel")]
    medley = np.concatenate([corpus.data[i] for i in pieces], axis=1)
    timeline = genre_timeline(model, [medley], hop_frames=64)[0]
    classes = list(timeline.columns[2:])
    centers = (timeline.start + timeline.end) / 2
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.stackplot(centers, timeline[classes].to_numpy().T, labels=classes, alpha=0.8)
    for k in range(1, 3):
        ax.axvline(k * medley.shape[1] / 3 / 46.875, color="k", ls="--", lw=1)
    ax.set(xlabel="time (s)", ylabel="probability", ylim=(0, 1),
           title="Predicted style through a medley: jig | chorale | reel")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    fig.savefig(out_dir / "example_genre_timeline.png", dpi=100)
    plt.close(fig)
    return timeline


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    main(OUT)
