"""Training curves and a confusion matrix on pieces never seen in training.

Trains the default pipeline on a small score corpus with a piece-disjoint split, then draws
loss and accuracy per epoch (train vs validation, as the original project showed) and the
test confusion matrix.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from _common import CORPUS, EPOCHS, OUT  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, f1_score  # noqa: E402

from sklearn_genre import make_genre_pipeline  # noqa: E402
from sklearn_genre.datasets import render_score_corpus  # noqa: E402
from sklearn_genre.demo import group_holdout, plot_training_curves  # noqa: E402


def main(out_dir):
    corpus = render_score_corpus(**CORPUS)
    train, test = group_holdout(corpus.target, corpus.groups, n_splits=4)
    X_train = [corpus.data[i] for i in train]
    X_test = [corpus.data[i] for i in test]
    model = make_genre_pipeline(clf__max_epochs=EPOCHS, clf__random_state=0, clf__verbose=0)
    model.fit(X_train, corpus.target[train])
    plot_training_curves(model[-1].history_, out_dir / "example_training_curves.png")
    y_pred = model.predict(X_test)
    display = ConfusionMatrixDisplay.from_predictions(corpus.target[test], y_pred,
                                                      colorbar=False)
    display.ax_.set_title(f"Unseen pieces, macro-F1 "
                          f"{f1_score(corpus.target[test], y_pred, average='macro'):.2f}")
    display.figure_.tight_layout()
    display.figure_.savefig(out_dir / "example_confusion_matrix.png", dpi=100)
    plt.close("all")
    return model


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    main(OUT)
