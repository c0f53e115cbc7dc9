"""Save and load models in a format that cannot execute code.

joblib and pickle files run code when they are loaded, so a model file from a stranger is a
program from a stranger. :func:`save` writes a zip archive instead: ``model.json`` describes
the estimator (class names, parameters, fitted attributes) and ``arrays/*.npy`` hold the
numbers (network weights, normalization statistics), read back with ``allow_pickle=False``.
:func:`load` rebuilds only classes from an explicit allowlist and refuses anything else.
The model card (:mod:`sklearn_genre.card`), when saved, is two more members, ``card.json``
and ``README.md``, that :func:`load` does not need.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from dataclasses import asdict, is_dataclass
from importlib import metadata as importlib_metadata
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder

from ._base import CRNNBase
from .datasets._base import atomic_write
from .exceptions import DataFileError

__all__ = ["save", "load", "UnsafeModelError", "TRUSTED_TYPES"]

FORMAT = "sklearn_genre.model"
#: 2: the estimators' augmentation and schedule parameters, the networks in
#: ``sklearn_genre.engine``. Version 1 files load with the defaults of their release.
FORMAT_VERSION = 2

#: Type names written by version 1 files that moved since.
_RENAMED = {"sklearn_genre.nn.CRNN": "sklearn_genre.engine.modules.CRNN"}
#: Estimator parameters that version 1 did not have, with the value that behaves as then.
_V1_PARAMS = {"augment": None, "train_loss": "track", "lr_schedule": None}
#: Parameters of version 1 estimators that no longer exist (skorch's ``classes`` of
#: ``NeuralNetClassifier``; the classes always come from ``y``).
_V1_DROPPED = ("classes",)


class UnsafeModelError(DataFileError):
    """A model file that is not in the safe format, or names a type outside the allowlist."""


def _trusted_types():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from skorch.dataset import Dataset as SkorchDataset

    from .audio import MelSpectrogram
    from .classifier import CRNNClassifier
    from .engine import CRNN, ShortChunkCRNN
    from .features import ClassicFeatures, MelStatistics
    from .tagger import CRNNTagger
    from .transformers import MelNormalizer, MelTrimmer, MelWindower

    types = [
        Pipeline, MelTrimmer, MelNormalizer, MelWindower, MelStatistics, ClassicFeatures,
        MelSpectrogram,
        CRNNClassifier, CRNNTagger, CRNN, ShortChunkCRNN, StandardScaler, LogisticRegression,
        SkorchDataset,
        torch.utils.data.DataLoader, torch.nn.CrossEntropyLoss, torch.nn.BCEWithLogitsLoss,
        torch.optim.Adam,
        torch.optim.AdamW, torch.optim.SGD,
    ]
    return {f"{t.__module__}.{t.__qualname__}": t for t in types}


#: Fully qualified names of the only classes :func:`load` will build.
TRUSTED_TYPES = tuple(sorted(_trusted_types()))


def _name(obj_or_type) -> str:
    t = obj_or_type if isinstance(obj_or_type, type) else type(obj_or_type)
    return f"{t.__module__}.{t.__qualname__}"


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value) -> dict:
        value = np.asarray(value)
        if value.dtype == object:
            if not all(isinstance(v, str | Integral | Real) for v in value.ravel()):
                raise TypeError("only numeric and string arrays can be saved")
            value = value.astype(str)
        key = f"arrays/{len(self.arrays)}.npy"
        self.arrays[key] = value
        return {"__array__": key}

    def value(self, value, where: str):
        """JSON description of a parameter or fitted attribute."""
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, torch.device | Path):
            return str(value)
        if isinstance(value, Integral):
            return int(value)
        if isinstance(value, Real):
            return float(value)
        if isinstance(value, np.ndarray | torch.Tensor):
            return self.array(value.detach().cpu().numpy() if isinstance(value, torch.Tensor)
                              else value)
        if isinstance(value, list | tuple):
            items = [self.value(v, where) for v in value]
            return items if isinstance(value, list) else {"__tuple__": items}
        if is_dataclass(value) and not isinstance(value, type):  # Augment
            return self.value(asdict(value), where)
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self.value(v, where) for k, v in value.items()}}
        if isinstance(value, type):
            name = _name(value)
            if name not in TRUSTED_TYPES:
                raise TypeError(f"{where}: class {name} is not in the safe format's allowlist")
            return {"__type__": name}
        if isinstance(value, BaseEstimator):
            return self.estimator(value, where)
        raise TypeError(f"{where}: cannot save a value of type {type(value).__name__} in the "
                        "safe format (use joblib for arbitrary objects)")

    def estimator(self, est, where: str) -> dict:
        name = _name(est)
        if name not in TRUSTED_TYPES:
            raise TypeError(f"{where}: {name} is not in the safe format's allowlist "
                            f"{TRUSTED_TYPES}")
        if isinstance(est, Pipeline):
            return {"__estimator__": name, "steps": [
                [step_name, step if step in ("passthrough", None)
                 else self.estimator(step, f"{where}.{step_name}")]
                for step_name, step in est.steps]}
        if isinstance(est, CRNNBase):
            return self.classifier(est, where)
        params = {k: self.value(v, f"{where}.{k}") for k, v in est.get_params(deep=False).items()}
        fitted = {k: self.value(v, f"{where}.{k}") for k, v in vars(est).items()
                  if k.endswith("_") and not k.startswith("_")}
        return {"__estimator__": name, "params": params, "fitted": fitted}

    def classifier(self, clf: CRNNBase, where: str) -> dict:
        from skorch.dataset import ValidSplit

        params = {}
        for key, value in clf.get_params(deep=False).items():
            if key == "callbacks":
                if value not in (None, [], ()):
                    raise TypeError(f"{where}: custom callbacks cannot be saved in the safe "
                                    "format; remove them (set_params(callbacks=None)) first")
                continue
            if key == "train_split":
                if value is None:
                    params[key] = None
                elif isinstance(value, ValidSplit) and isinstance(value.cv, float):
                    params[key] = {"__valid_split__": [value.cv, value.stratified,
                                                       value.random_state]}
                else:
                    raise TypeError(f"{where}: only ValidSplit(float) or None train_split "
                                    "can be saved in the safe format")
                continue
            if key.startswith(("callbacks__", "_")):  # skorch's bookkeeping
                continue
            params[key] = self.value(value, f"{where}.{key}")
        description = {"__estimator__": _name(clf), "params": params}
        if hasattr(clf, "module_"):
            description["fitted"] = {
                "classes_": self.value(np.asarray(clf.classes_), where),
                "n_mels_": int(clf.n_mels_),
                "class_weight_": self.value(getattr(clf, "class_weight_", None), where),
                **{key: self.value(getattr(clf, key), where)
                   for key in ("thresholds_", "y_kind_", "pos_weight_") if hasattr(clf, key)},
                "state_dict": {k: self.array(v.detach().cpu().numpy())
                               for k, v in clf.module_.state_dict().items()},
                "history": json.loads(json.dumps(clf.history_.to_list(), default=str)),
            }
        return description


def _versions() -> dict:
    out = {"python_packages": {}}
    for dist in ("sklearn-genre", "torch", "scikit-learn", "skorch", "numpy"):
        try:
            out["python_packages"][dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out["python_packages"][dist] = None
    return out


def save(model, path, *, card=True) -> Path:
    """Save a fitted pipeline or estimator in the safe format (a zip archive).

    Parameters
    ----------
    model : Pipeline or estimator
        Built from the package's estimators, ``StandardScaler`` and
        ``LogisticRegression`` (see :data:`TRUSTED_TYPES`).
    path : str or path-like
        Destination, conventionally ``*.sgm``; written atomically.
    card : bool or dict, default=True
        The model card saved in the archive (``card.json`` and ``README.md``, see
        :mod:`sklearn_genre.card`; ``python -m sklearn_genre info`` prints it): True
        records what the model knows of itself (classes, parameters, training curves);
        a dict adds facts, ``{"data": data_summary(y, groups=groups, collection=...),
        "scores": {...}, "command": "...", "title": ..., "notes": ...}``; False saves
        none.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    TypeError
        When the model holds something the safe format cannot describe (custom
        callbacks, classes outside the allowlist); use joblib for those.

    Examples
    --------
    >>> import sklearn_genre
    >>> sklearn_genre.save(fitted_pipeline, "genre.sgm")        # doctest: +SKIP
    >>> model = sklearn_genre.load("genre.sgm")                 # doctest: +SKIP
    """
    from .card import card_from_facts, write_card

    card = card_from_facts(model, card)  # a wrong card fails before anything is written
    writer = _Writer()
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **_versions(),
                "model": writer.estimator(model, "model")}
    path = Path(path)
    with atomic_write(path) as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("model.json", json.dumps(manifest, indent=1))
            for key, array in writer.arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(key, buffer.getvalue())
            if card is not None:
                write_card(archive, card)
    return path


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, trusted: dict, version: int):
        self.archive = archive
        self.trusted = trusted
        self.version = version

    def array(self, key: str) -> np.ndarray:
        if not isinstance(key, str) or not key.startswith("arrays/"):
            raise UnsafeModelError(f"bad array reference {key!r}")
        with self.archive.open(key) as handle:
            array = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        # strings were saved as unicode arrays; labels are Python str objects again
        return array.astype(object) if array.dtype.kind == "U" else array

    def type(self, name: str):
        name = _RENAMED.get(name, name) if self.version < 2 else name
        if name not in self.trusted:
            raise UnsafeModelError(
                f"refusing to load: the model file names {name!r}, which is not in the "
                "allowlist of trusted types"
            )
        return self.trusted[name]

    def value(self, value):
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            return self.array(value["__array__"])
        if "__tuple__" in value:
            return tuple(self.value(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: self.value(v) for k, v in value["__dict__"].items()}
        if "__type__" in value:
            return self.type(value["__type__"])
        if "__estimator__" in value:
            return self.estimator(value)
        raise UnsafeModelError(f"unknown entry in model file: {sorted(value)}")

    def estimator(self, description: dict):
        cls = self.type(description["__estimator__"])
        if cls is Pipeline:
            return Pipeline([(name, step if isinstance(step, str) or step is None
                              else self.estimator(step))
                             for name, step in description["steps"]])
        if issubclass(cls, CRNNBase):
            return self.classifier(cls, description)
        est = cls(**{k: self.value(v) for k, v in description["params"].items()})
        for key, value in description.get("fitted", {}).items():
            if not key.endswith("_"):
                raise UnsafeModelError(f"bad fitted attribute name {key!r}")
            setattr(est, key, self.value(value))
        return est

    def classifier(self, cls, description: dict):
        from sklearn.preprocessing import MultiLabelBinarizer
        from skorch.dataset import ValidSplit

        params = {}
        for key, value in description["params"].items():
            if isinstance(value, dict) and "__valid_split__" in value:
                cv, stratified, random_state = value["__valid_split__"]
                params[key] = ValidSplit(float(cv), stratified=bool(stratified),
                                         random_state=random_state)
            else:
                params[key] = self.value(value)
        if self.version < 2:
            params = {**_V1_PARAMS, **{k: v for k, v in params.items()
                                       if k not in _V1_DROPPED or v is not None}}
        clf = cls(**params)
        fitted = description.get("fitted")
        if fitted is None:
            return clf
        classes = np.asarray(self.value(fitted["classes_"]))
        if "thresholds_" in fitted:  # CRNNTagger
            clf.binarizer_ = MultiLabelBinarizer(classes=list(classes)).fit([[]])
            clf.thresholds_ = np.asarray(self.value(fitted["thresholds_"]), dtype=np.float64)
            clf.y_kind_ = str(fitted["y_kind_"])
            clf.pos_weight_ = self.value(fitted.get("pos_weight_"))
        else:
            clf.label_encoder_ = LabelEncoder()
            clf.label_encoder_.classes_ = classes
            clf.class_weight_ = self.value(fitted["class_weight_"])
        clf.n_mels_ = int(fitted["n_mels_"])
        if not torch.cuda.is_available() and str(clf.device).startswith("cuda"):
            warnings.warn("the model was saved for CUDA; loading it on the CPU", stacklevel=3)
            clf.device = "cpu"
        clf.initialize()
        state = {k: torch.as_tensor(self.array(v["__array__"]))
                 for k, v in fitted["state_dict"].items()}
        clf.module_.load_state_dict(state)
        clf.history_.extend(fitted.get("history", []))
        return clf


def load(path, *, trusted=()):
    """Load a model saved by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like
    trusted : sequence of types, default=()
        Extra classes to allow besides :data:`TRUSTED_TYPES` (your own transformers).

    Returns
    -------
    model : Pipeline or estimator

    Raises
    ------
    UnsafeModelError
        The file is not a safe-format archive (for example a joblib/pickle file, which
        could run code), or it names a type outside the allowlist.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise UnsafeModelError(
            f"{path} is not a sklearn_genre safe model archive. joblib/pickle files can run "
            "code when loaded: open them with joblib.load only if you trust their source."
        )
    allow = {**_trusted_types(), **{_name(t): t for t in trusted}}
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = json.loads(archive.read("model.json"))
        except (KeyError, ValueError) as exc:
            raise UnsafeModelError(f"{path}: no readable model.json ({exc})") from exc
        if manifest.get("format") != FORMAT:
            raise UnsafeModelError(f"{path}: not a {FORMAT} archive")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise UnsafeModelError(f"{path}: written by a newer sklearn_genre (format "
                                   f"{manifest['format_version']}); upgrade to load it")
        saved = manifest.get("python_packages", {})
        now = _versions()["python_packages"]
        changed = {k: (saved.get(k), now[k]) for k in now if saved.get(k) != now[k]}
        if changed:
            warnings.warn(f"{path} was saved with other versions (saved, now): {changed}; "
                          "predictions may differ slightly", UserWarning, stacklevel=2)
        try:
            reader = _Reader(archive, allow, int(manifest.get("format_version", 1)))
            return reader.estimator(manifest["model"])
        except (KeyError, TypeError) as exc:
            raise UnsafeModelError(f"{path}: malformed model description ({exc})") from exc
