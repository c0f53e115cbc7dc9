"""The one-page evaluation report: opened as a user would, its images decoded and sized."""

import base64
import io
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL.Image")

from sklearn_genre import (  # noqa: E402
    make_baseline_pipeline,
    make_genre_pipeline,
    make_tagging_pipeline,
    report,
)
from sklearn_genre.report import ReportError  # noqa: E402

from .conftest import make_separable  # noqa: E402

TINY = dict(window__n_windows=2, window__window_frames=32, clf__train_crop_frames=None,
            clf__module__channels=(4, 8), clf__module__pools=((2, 2), (2, 2)),
            clf__max_epochs=2, clf__module__hidden_size=8, clf__verbose=0,
            clf__random_state=0)
LABELS = ("blues", "jazz", "rock")


def _images(page: str):
    """The embedded PNG images of an HTML page, opened."""
    encoded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [PIL.open(io.BytesIO(base64.b64decode(data))) for data in encoded]


def test_classifier_report_html_and_png(rng, tmp_path):
    X, y = make_separable(rng, n_tracks=30, n_frames=64, labels=LABELS)
    groups = np.arange(30) // 3
    model = make_genre_pipeline(**TINY).fit(list(X), y)
    path = report(model, list(X), y, groups=groups, path=tmp_path / "report.html",
                  title="Toy genres")
    page = path.read_text(encoding="utf-8")
    assert "<h1>Toy genres</h1>" in page and "10 groups" in page and "30 tracks" in page
    assert "macro avg" in page and all(f"<th>{label}</th>" in page for label in LABELS)
    images = _images(page)
    assert len(images) == 2  # the confusion matrix and the precision/recall bars
    for image in images:
        assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 300
    png = report(model, list(X), y, path=tmp_path / "report.png")
    with PIL.open(png) as image:
        assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 600
    # any scikit-learn classifier works too
    baseline = make_baseline_pipeline().fit(list(X), y)
    assert len(_images(report(baseline, list(X), y, path=tmp_path / "b.html").read_text())) == 2


def test_tagger_report_has_pr_curves_and_tag_metrics(rng, tmp_path):
    X, _ = make_separable(rng, n_tracks=30, n_frames=64)
    tags = [("rock",) if i % 3 == 0 else ("rock", "live") if i % 3 == 1 else ("jazz",)
            for i in range(30)]
    model = make_tagging_pipeline(**TINY).fit(list(X), tags)
    page = report(model, list(X), tags, path=tmp_path / "tags.html").read_text()
    assert "ROC-AUC" in page and "Precision-recall curves" in page and "pr_auc" in page
    images = _images(page)
    assert len(images) == 2 and all(image.size[0] >= 400 for image in images)


def test_report_errors(rng, tmp_path):
    X, y = make_separable(rng, n_tracks=20, n_frames=64)
    model = make_baseline_pipeline().fit(list(X), y)
    with pytest.raises(ReportError, match="path must end in one of"):
        report(model, list(X), y, path=tmp_path / "report.pdf")
    with pytest.raises(ReportError, match="groups has 3 entries"):
        report(model, list(X), y, groups=[1, 2, 3], path=tmp_path / "report.html")
    assert not list(tmp_path.iterdir())  # nothing half-written
