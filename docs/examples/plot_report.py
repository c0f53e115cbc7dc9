"""A one-page evaluation report of the default pipeline on pieces never seen in training.

Trains on a small score corpus with a piece-disjoint split and writes the report of the
test part as a PNG page (``report(..., path="report.html")`` writes the same as a
self-contained HTML page).
"""

from _common import CORPUS, EPOCHS, OUT

from sklearn_genre import make_genre_pipeline, report
from sklearn_genre.datasets import render_score_corpus
from sklearn_genre.demo import group_holdout


def main(out_dir):
    corpus = render_score_corpus(**CORPUS)
    train, test = group_holdout(corpus.target, corpus.groups, n_splits=4)
    model = make_genre_pipeline(clf__max_epochs=EPOCHS, clf__random_state=0, clf__verbose=0)
    model.fit([corpus.data[i] for i in train], corpus.target[train])
    return report(model, [corpus.data[i] for i in test], corpus.target[test],
                  groups=corpus.groups[test], path=out_dir / "example_report.png",
                  title="Default pipeline, unseen pieces of the score corpus")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    print(main(OUT))
