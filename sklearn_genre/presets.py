"""Named configurations: the measured defaults, the original project's, the rhythm model.

- ``"default"``: what :func:`~sklearn_genre.make_genre_pipeline` and
  :class:`~sklearn_genre.CRNNClassifier` use; the configuration that measured best
  across the benchmarks (docs/benchmarks.md).
- ``"seed"``: the original student project's documented hyper-parameters (conv 8 then 16
  channels, kernel 3, pool 2, LSTM hidden 16 x 3 layers, dense 32, dropout 0.5, Adam lr
  0.01, weight decay 0.001; first 1400 frames, one window), for comparisons.
- ``"rhythm"``: the 1-D CNN-LSTM tuned on the score corpus's shared-instrument mode, which
  removes timbre: per-track-band normalization, 4 windows of 352 frames with random
  256-frame crops; learns rhythm, not timbre.

:data:`CLASSIFIER_PRESETS` holds the classifier's parameters of each, for
:meth:`CRNNClassifier.from_preset <sklearn_genre.CRNNClassifier.from_preset>`;
:func:`pipeline_steps` builds each preset's pipeline steps.
"""

from __future__ import annotations

from skorch.dataset import ValidSplit

from .engine import CRNN

__all__ = ["CLASSIFIER_PRESETS", "PRESETS", "pipeline_steps"]

PRESETS = ("default", "seed", "rhythm")

#: Parameters of :class:`~sklearn_genre.CRNNClassifier` per preset (its own defaults are
#: ``"default"``'s).
CLASSIFIER_PRESETS = {
    "default": {},
    "seed": {
        "module": CRNN, "module__conv_channels": (8, 16), "module__kernel_size": 3,
        "module__pool_size": 2, "module__hidden_size": 16, "module__num_layers": 3,
        "module__dense_size": 32, "module__dropout": 0.5, "module__window_pooling": "mean",
        "lr": 0.01, "optimizer__weight_decay": 0.001, "max_epochs": 40, "batch_size": 32,
        "train_split": ValidSplit(0.2, stratified=True), "patience": 10,
        "train_loss": "track", "lr_schedule": None,
    },
    "rhythm": {
        "module": CRNN, "module__kernel_size": 9, "module__dropout": 0.1,
        "module__window_pooling": "mean", "optimizer__weight_decay": 0.0, "lr": 0.003,
        "batch_size": 8, "max_epochs": 60, "train_crop_frames": 256,
        "train_split": ValidSplit(0.2, stratified=True), "patience": None,
        "train_loss": "track", "lr_schedule": None,
    },
}


def pipeline_steps(preset: str = "default") -> list:
    """The ``(name, step)`` list of a preset's pipeline: ``trim``, ``norm``, ``window``,
    ``clf`` (fresh estimators at every call).

    Parameters
    ----------
    preset : {"default", "seed", "rhythm"}

    Returns
    -------
    steps : list of (str, estimator or "passthrough")
    """
    from .classifier import CRNNClassifier
    from .transformers import MelNormalizer, MelTrimmer, MelWindower

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}.")
    classifier = CRNNClassifier(**CLASSIFIER_PRESETS[preset])
    if preset == "seed":
        return [("trim", MelTrimmer(n_frames=1400)), ("norm", MelNormalizer(scope="band")),
                ("window", "passthrough"), ("clf", classifier)]
    if preset == "rhythm":
        return [("trim", "passthrough"), ("norm", MelNormalizer(scope="track_band")),
                ("window", MelWindower(n_windows=4, window_frames=352)), ("clf", classifier)]
    return [("trim", "passthrough"), ("norm", MelNormalizer(scope="band")),
            ("window", MelWindower(n_windows=8, window_frames=128, train_offsets="random",
                                   train_windows=4)),
            ("clf", classifier)]

