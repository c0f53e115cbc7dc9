"""Export a fitted network to ONNX, with what it takes to use it without this library.

The ONNX graph is the network from windows to track scores: input ``windows``, float32
``(batch, n_windows, n_mels, window_frames)`` (batch and ``n_windows`` dynamic); output
``scores``, float32 ``(batch, n_outputs)``, the softmax (classifier: class probabilities)
or the sigmoid (tagger: independent tag probabilities) of the window logits pooled by the
network's ``window_pooling``, i.e. what ``predict_proba`` returns for those windows.

What comes before the network (the mel recipe of :mod:`sklearn_genre.audio`, the fitted
:class:`~sklearn_genre.MelNormalizer`, the :class:`~sklearn_genre.MelWindower`) is not in
the graph: it is written into the model's metadata (``metadata_props``, JSON strings), so
that a program with numpy, librosa and onnxruntime only can reproduce it
(``docs/examples/onnx_predict.py``).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from ._base import CRNNBase
from .audio import F_MAX, HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from .engine import pool_windows, window_scores
from .engine.layers import Conv1d
from .transformers import MelNormalizer, MelTrimmer, MelWindower

__all__ = ["export_onnx", "ExportError", "MEL_RECIPE", "METADATA_KEYS"]

#: The mel recipe of :mod:`sklearn_genre.audio`, as written into the metadata.
MEL_RECIPE = {
    "sample_rate": SAMPLE_RATE, "mono": True, "resampler": "soxr_hq", "n_fft": N_FFT,
    "hop_length": HOP_LENGTH, "window": "hann", "center": True, "pad_mode": "constant",
    "n_mels": N_MELS, "f_min": 0.0, "f_max": F_MAX, "mel_scale": "slaney", "mel_norm": "slaney",
    "power": 2.0, "db": "20 * log10(max(power, 1e-10))",
    "n_frames": "ceil(n_samples / hop_length) + 1 (the signal is zero-padded to "
                "(n_frames - 1) * hop_length samples before the centered STFT)",
}

#: Metadata entries of an exported model (all JSON strings).
METADATA_KEYS = ("sklearn_genre_version", "format", "classes", "output", "input",
                 "window_pooling", "thresholds", "mel_recipe", "trimmer", "normalizer",
                 "windower")

_FORMAT = "sklearn_genre.onnx/1"
_INPUT, _OUTPUT = "windows", "scores"


class ExportError(ValueError):
    """A model that cannot be exported: the argument, what it was and what is expected."""


class _TrackScores(torch.nn.Module):
    """Windows ``(batch, n_windows, n_mels, window_frames)`` to pooled track scores."""

    def __init__(self, network, pooling: str, output: str):
        super().__init__()
        self.network, self.pooling, self.output = network, pooling, output

    def forward(self, windows):
        logits = pool_windows(self.network.window_logits(windows), self.pooling,
                              output=self.output)
        return window_scores(logits.unsqueeze(1), output=self.output)[:, 0]


def _plain_layers(network: torch.nn.Module) -> torch.nn.Module:
    """A CPU float32 copy of ``network`` in eval mode whose layers are torch's own.

    The fast CPU convolution (:class:`~sklearn_genre.engine.Conv1d`) is a custom autograd
    function that the exporter cannot translate; a :class:`torch.nn.Conv1d` with the same
    weights computes the same values. ``MaxPoolReLU`` already runs plain torch operations
    without gradients.
    """
    network = copy.deepcopy(network).cpu().float().eval()
    for parent in list(network.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1d):
                plain = torch.nn.Conv1d(
                    child.in_channels, child.out_channels, child.kernel_size,
                    stride=child.stride, padding=child.padding, dilation=child.dilation,
                    groups=child.groups, bias=child.bias is not None,
                    padding_mode=child.padding_mode)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain.eval())
    return network


def _steps(model):
    """``(trimmer, normalizer, windower, estimator)`` of a pipeline or an estimator."""
    if isinstance(model, CRNNBase):
        return None, None, None, model
    if not isinstance(model, Pipeline):
        raise ExportError(
            f"model must be a fitted CRNNClassifier, CRNNTagger or a Pipeline ending in one; "
            f"got {type(model).__name__}.")
    *steps, estimator = [step for _, step in model.steps]
    if not isinstance(estimator, CRNNBase):
        raise ExportError(
            f"model's last step must be a CRNNClassifier or CRNNTagger; got "
            f"{type(estimator).__name__}.")
    found = {"trim": None, "norm": None, "window": None}
    kinds = {"trim": MelTrimmer, "norm": MelNormalizer, "window": MelWindower}
    order = []
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        kind = next((k for k, cls in kinds.items() if isinstance(step, cls)), None)
        if kind is None or found[kind] is not None:
            raise ExportError(
                f"model has a step {type(step).__name__} that the ONNX metadata cannot "
                "describe; expected at most one MelTrimmer, MelNormalizer and MelWindower, "
                "in that order, before the estimator.")
        found[kind] = step
        order.append(kind)
    if order != sorted(order, key=list(kinds).index):
        raise ExportError(f"model's steps come in the order {order}; expected trim, norm, "
                          "window.")
    return found["trim"], found["norm"], found["window"], estimator


def _floats(array) -> list:
    return [float(v) for v in np.asarray(array, dtype=np.float64).ravel()]


def _metadata(trimmer, normalizer, windower, estimator, window_frames: int) -> dict:
    from . import __version__

    network = estimator.module_
    thresholds = getattr(estimator, "thresholds_", None)
    meta = {
        "sklearn_genre_version": __version__,
        "format": _FORMAT,
        "classes": [c.item() if isinstance(c, np.generic) else c
                    for c in np.asarray(estimator.classes_).tolist()],
        "output": estimator.output,
        "input": {"name": _INPUT, "shape": ["batch", "n_windows", int(estimator.n_mels_),
                                             int(window_frames)], "dtype": "float32"},
        "window_pooling": getattr(network, "window_pooling", "mean"),
        "thresholds": None if thresholds is None else _floats(thresholds),
        "mel_recipe": {**MEL_RECIPE, "n_mels": int(estimator.n_mels_)},
        "trimmer": None if trimmer is None else {
            "n_frames": int(trimmer.n_frames), "offset": trimmer.offset,
            "pad_mode": trimmer.pad_mode, "pad_value": trimmer.pad_value},
        "normalizer": None if normalizer is None else {
            "scope": normalizer.scope, "eps": float(normalizer.eps),
            "mean": None if normalizer.mean_ is None else _floats(normalizer.mean_),
            "scale": None if normalizer.scale_ is None else _floats(normalizer.scale_)},
        "windower": None if windower is None else {
            "n_windows": int(windower.n_windows), "window_frames": int(windower.window_frames),
            "pad_mode": windower.pad_mode, "pad_value": windower.pad_value,
            "starts": "round(linspace(0, max(n_frames - window_frames, 0), n_windows)) "
                      "after padding the track to at least window_frames frames"},
    }
    return meta


def export_onnx(model, path, *, window_frames: int | None = None, opset: int = 17) -> Path:
    """Write the network of a fitted pipeline or estimator as an ONNX model.

    Parameters
    ----------
    model : Pipeline or CRNNClassifier or CRNNTagger
        Fitted. A pipeline's steps before the estimator may be ``"passthrough"``, a
        :class:`~sklearn_genre.MelTrimmer`, a :class:`~sklearn_genre.MelNormalizer` and a
        :class:`~sklearn_genre.MelWindower`: they are not in the graph but described in
        its metadata.
    path : str or path-like
        Destination, conventionally ``*.onnx``.
    window_frames : int or None, default=None
        Frames per window of the graph's input: the pipeline's ``MelWindower`` sets it;
        required for an estimator on its own.
    opset : int, default=17
        ONNX operator set.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ExportError
        The model is not fitted, has steps the metadata cannot describe, or a network
        without ``window_logits``.
    ImportError
        ``onnx`` is not installed (``pip install 'sklearn-genre[onnx]'``).

    Notes
    -----
    The graph takes ``windows``, float32 ``np.ndarray [shape=(batch, n_windows, n_mels,
    window_frames)]`` (what the pipeline's steps before the estimator return; ``batch``
    and ``n_windows`` are dynamic) and returns ``scores``, float32 ``np.ndarray
    [shape=(batch, n_outputs)]``: the estimator's ``predict_proba`` of those windows.
    Metadata (``onnx.ModelProto.metadata_props``, each a JSON string): ``classes``,
    ``output`` (``"softmax"`` or ``"sigmoid"``), ``window_pooling``, ``thresholds``
    (tagger), ``mel_recipe``, ``trimmer``, ``normalizer`` (``scope``, ``eps`` and the
    fitted ``mean``/``scale`` per band, or None for per-track scopes) and ``windower``
    (``n_windows``, ``window_frames``, padding).

    Examples
    --------
    >>> from sklearn_genre import export_onnx
    >>> export_onnx(fitted_pipeline, "genre.onnx")                  # doctest: +SKIP
    >>> import onnxruntime                                          # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("genre.onnx")        # doctest: +SKIP
    >>> windows = fitted_pipeline[:-1].transform(mels)              # doctest: +SKIP
    >>> session.run(["scores"], {"windows": windows})[0].shape      # doctest: +SKIP
    (2, 7)
    """
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("ONNX export needs onnx: pip install 'sklearn-genre[onnx]'") from exc
    trimmer, normalizer, windower, estimator = _steps(model)
    if not hasattr(estimator, "module_"):
        raise ExportError(f"model must be fitted; {type(estimator).__name__} has no module_ "
                          "(call fit first).")
    network = estimator.module_
    if not hasattr(network, "window_logits"):
        raise ExportError(f"model's network {type(network).__name__} has no window_logits; "
                          "expected a network of sklearn_genre.engine (CRNN, ShortChunkCRNN).")
    graph = _TrackScores(_plain_layers(network), getattr(network, "window_pooling", "mean"),
                         estimator.output).eval()
    if windower is not None:
        if window_frames not in (None, windower.window_frames):
            raise ExportError(f"window_frames is {window_frames!r} but the pipeline's "
                              f"MelWindower cuts {windower.window_frames}; leave it None.")
        window_frames = windower.window_frames
    elif window_frames is None or not isinstance(window_frames, int) or window_frames < 1:
        raise ExportError(f"window_frames must be a positive int for an estimator without "
                          f"a pipeline (the frames of the windows it scores); got "
                          f"{window_frames!r}.")
    # the time axis is fixed: layer sizes after pooling are read from it while tracing
    example = torch.zeros(2, windower.n_windows if windower is not None else 2,
                          int(estimator.n_mels_), int(window_frames))
    path = Path(path)
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter's notes about shapes read as Python numbers (the mel and
        # frame sizes, fixed by the windows), its own deprecation, and RNN batch sizes
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        torch.onnx.export(
            graph, (example,), str(path), input_names=[_INPUT], output_names=[_OUTPUT],
            dynamic_axes={_INPUT: {0: "batch", 1: "n_windows"}, _OUTPUT: {0: "batch"}},
            opset_version=opset, dynamo=False)
    proto = onnx.load(str(path))
    metadata = _metadata(trimmer, normalizer, windower, estimator, window_frames)
    onnx.helper.set_model_props(proto, {key: json.dumps(value)
                                        for key, value in metadata.items()})
    proto.doc_string = (f"sklearn_genre {type(estimator).__name__}: windows (batch, n_windows, "
                        f"{int(estimator.n_mels_)}, window_frames) to {estimator.output} "
                        f"scores (batch, {len(metadata['classes'])}); see metadata_props.")
    onnx.save(proto, str(path))
    return path
