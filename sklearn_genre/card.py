"""Model cards: what a saved model is, what it was trained on, how well it scored.

A card is a plain dict of JSON values (:func:`model_card`), rendered as Markdown by
:func:`render_card`. :func:`sklearn_genre.save` writes it into the ``.sgm`` archive as
``card.json`` and ``README.md``; :func:`read_card` reads it back without building the model,
and ``python -m sklearn_genre info MODEL`` prints it. Sections: the model, its classes, the
training data (counts per class, collection, split and groups, when given), every
parameter, a summary of the training curves, held-out scores with the command that made
them, intended use, known limits and the software versions.

Written here rather than with ``skops.card``: skops 0.16 installs without a hub client, but
its card is a Markdown document built around a model object or a pickle/skops file, while
this card must be a JSON document inside the safe archive, readable without loading the
model (``info``) and without a further dependency; the sections are the same.
"""

from __future__ import annotations

import json
import reprlib
import zipfile
from collections import Counter
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from ._base import CRNNBase
from .audio import FRAME_RATE, N_MELS, SAMPLE_RATE

__all__ = ["CARD_FACTS", "CardError", "data_summary", "model_card", "read_card",
           "render_card"]

FORMAT = "sklearn_genre.card/1"
#: Facts a caller can add to a card (``save(model, path, card={...})``).
CARD_FACTS = ("data", "scores", "command", "title", "notes")
#: Names of the card's members in a ``.sgm`` archive.
CARD_JSON, CARD_MARKDOWN = "card.json", "README.md"

INTENDED_USE = (
    "Suggesting genre labels (or tags) from the vocabulary below for music recordings like "
    "the training data: exploring or pre-sorting a collection, with a person checking the "
    "suggestions, and research baselines. Scores are per track (windows pooled); "
    "`genre_timeline` gives them per window.")

LIMITATIONS = (
    "It knows only its classes and what its training data showed of them: music of other "
    "styles, eras, cultures or recording conditions still gets one of these labels, with "
    "probabilities that are not calibrated for it.",
    f"Input must be mel-spectrograms of the library's recipe (mono, {SAMPLE_RATE} Hz, "
    f"{N_MELS} Slaney mel bands 0-6000 Hz, hop 256, 20 log10 power, {FRAME_RATE:g} frames "
    "per second); other sample rates, scales or features give meaningless scores without "
    "an error.",
    "Genre labels are culturally defined and contested: the labels it learned are the "
    "training collection's conventions (and its mistakes), not a ground truth.",
    "Held-out scores hold for data like the held-out part (same collection, same kind of "
    "split); they say little about another collection. Scores from a split that puts one "
    "artist or piece on both sides are optimistic (see the groups under Training data).",
    "A track is judged from a few windows spread over it: a long, varied track gets the "
    "pooled label of those windows, a clip shorter than one window is padded.",
    "Not for decisions about people or payments (rights, moderation, royalties) without "
    "human review.",
)


class CardError(ValueError):
    """Card facts of the wrong kind: the argument, what it was and what is expected."""


def _jsonable(value):
    """``value`` as JSON-ready Python values (numpy scalars and arrays, paths, types)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def data_summary(y, *, groups=None, collection=None, split=None, notes=None) -> dict:
    """Return the training-data section of a card: tracks, counts per class, groups.

    Parameters
    ----------
    y : array-like [shape=(n_tracks,)] or list of tag sequences or \
np.ndarray [shape=(n_tracks, n_tags)] of 0/1
        The training targets: one label per track, or tags.
    groups : array-like [shape=(n_tracks,)] or None
        Group (artist, piece) of every track.
    collection : str or None
        What the data is ("GTZAN, fault-filtered split", a folder, a corpus).
    split : str or None
        Which part of it trained the model, and how it was split from the rest.
    notes : str or None

    Returns
    -------
    summary : dict
        ``n_tracks``, ``kind`` (``"labels"`` or ``"tags"``), ``counts`` (tracks per class
        or tag), ``n_groups``, ``collection``, ``split``, ``notes``.

    Examples
    --------
    >>> from sklearn_genre import data_summary
    >>> data_summary(["rock", "jazz", "rock"], groups=["a", "b", "a"])["counts"]
    {'jazz': 1, 'rock': 2}
    """
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        kind = "tags"
        counts = {str(k): int(n) for k, n in enumerate(np.asarray(y).sum(axis=0))}
        n_tracks = len(y)
    else:
        values = list(y)
        tags = bool(values) and not isinstance(values[0], str) and hasattr(values[0],
                                                                          "__iter__")
        kind = "tags" if tags else "labels"
        counter = Counter(t for tags_ in values for t in tags_) if tags else Counter(values)
        counts = {str(_jsonable(k)): int(n) for k, n in sorted(counter.items(),
                                                               key=lambda kv: str(kv[0]))}
        n_tracks = len(values)
    if groups is not None and len(groups) != n_tracks:
        raise CardError(f"groups has {len(groups)} entries; expected one per track "
                        f"({n_tracks}).")
    return {"n_tracks": n_tracks, "kind": kind, "counts": counts,
            "n_groups": None if groups is None else len({str(g) for g in groups}),
            "collection": collection, "split": split, "notes": notes}


def _estimator(model):
    if isinstance(model, Pipeline):
        return model.steps[-1][1]
    return model


def _parameter_text(value) -> str:
    """Short text for a parameter, without memory addresses (the same model, the same
    card)."""
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}"
    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlist, short.maxtuple = 80, 120, 8, 8
    text = short.repr(value)
    if " at 0x" in text and hasattr(value, "__dict__"):  # an object without a repr of its own
        fields = ", ".join(f"{k}={short.repr(v)}" for k, v in vars(value).items()
                           if not k.startswith("_"))
        text = f"{type(value).__name__}({fields})"
    return text


def _parameters(model) -> dict:
    """Every parameter, ``step__name`` flattened, as short text (nested estimators and
    skorch's callback instances left out: their own parameters are listed, the callbacks
    are the estimator's defaults)."""
    params = model.get_params(deep=True)
    out = {}
    for key, value in sorted(params.items()):
        if (isinstance(value, BaseEstimator) or key in ("steps", "estimators")
                or "callbacks__" in key):
            continue
        out[key] = _parameter_text(value)
    return out


def _curve(history, key):
    values = [row.get(key) for row in history]
    points = [(i + 1, float(v)) for i, v in enumerate(values)
              if isinstance(v, int | float) and not isinstance(v, bool)]
    if not points:
        return None
    lower_is_better = "loss" in key
    best = (min if lower_is_better else max)(points, key=lambda p: p[1])
    return {"first": points[0][1], "last": points[-1][1], "best": best[1],
            "best_epoch": best[0]}


def _training(estimator):
    history = getattr(estimator, "history_", None)
    if history is None or not len(history):
        return None
    rows = history.to_list() if hasattr(history, "to_list") else list(history)
    curves = {key: _curve(rows, key) for key in ("train_loss", "valid_loss", "train_acc",
                                                  "valid_acc", "valid_f1")}
    seconds = sum(float(row.get("dur", 0.0) or 0.0) for row in rows)
    return {"epochs": len(rows), "fit_seconds": round(seconds, 1),
            **{key: curve for key, curve in curves.items() if curve is not None}}


def _versions() -> dict:
    out = {}
    for dist in ("sklearn-genre", "torch", "skorch", "scikit-learn", "numpy", "librosa"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _describe(model) -> dict:
    estimator = _estimator(model)
    network = getattr(estimator, "module_", None)
    steps = ([[name, "passthrough" if step in ("passthrough", None) else type(step).__name__]
              for name, step in model.steps] if isinstance(model, Pipeline) else None)
    fitted = hasattr(estimator, "classes_") and (not isinstance(estimator, CRNNBase)
                                                 or network is not None)
    description = {"type": type(model).__name__, "estimator": type(estimator).__name__,
                   "steps": steps, "fitted": bool(fitted)}
    if isinstance(estimator, CRNNBase):
        description.update({
            "network": type(network).__name__ if network is not None else
            _parameter_text(estimator.module),
            "output": estimator.output,
            "n_mels": getattr(estimator, "n_mels_", None),
            "n_parameters": None if network is None else
            int(sum(p.numel() for p in network.parameters())),
            "window_pooling": getattr(network, "window_pooling", None)})
    if isinstance(model, Pipeline):
        windower = next((s for _, s in model.steps if hasattr(s, "window_frames")), None)
        if windower is not None:
            description["windows"] = {"n_windows": int(windower.n_windows),
                                      "window_frames": int(windower.window_frames),
                                      "seconds": round(windower.window_frames / FRAME_RATE,
                                                       2)}
    return description


def model_card(model, *, data=None, scores=None, command=None, title=None,
               notes=None) -> dict:
    """Return the model card of ``model`` as a dict of JSON values.

    Parameters
    ----------
    model : Pipeline or estimator
        Fitted or not (an unfitted model's card says so).
    data : dict or None
        The training data: :func:`data_summary`'s dict (or any dict of facts).
    scores : dict or None
        Held-out scores, ``{"macro_f1": 0.71, ...}`` (numbers or text).
    command : str or None
        The command or code that trained and scored the model.
    title : str or None
    notes : str or None
        Anything else a user of the model should know.

    Returns
    -------
    card : dict
        ``format``, ``title``, ``model``, ``classes``, ``data``, ``parameters``,
        ``training``, ``scores``, ``command``, ``intended_use``, ``limitations``,
        ``software``, ``notes``; see :func:`render_card`.

    Examples
    --------
    >>> from sklearn_genre import make_genre_pipeline, model_card
    >>> card = model_card(make_genre_pipeline())
    >>> card["model"]["estimator"], card["parameters"]["window__n_windows"]
    ('CRNNClassifier', '8')
    """
    for name, value in (("data", data), ("scores", scores)):
        if value is not None and not isinstance(value, dict):
            raise CardError(f"{name} must be a dict or None, got {type(value).__name__}.")
    estimator = _estimator(model)
    try:
        classes = _jsonable(list(estimator.classes_))
    except (AttributeError, ValueError):  # unfitted (check_is_fitted raises NotFittedError)
        classes = None
    card = {
        "format": FORMAT,
        "title": title or f"{type(estimator).__name__} genre model",
        "model": _describe(model),
        "classes": classes,
        "data": data,
        "parameters": _parameters(model),
        "training": _training(estimator),
        "scores": scores,
        "command": command,
        "intended_use": INTENDED_USE,
        "limitations": list(LIMITATIONS),
        "software": _versions(),
        "notes": notes,
    }
    return _jsonable(card)


def card_from_facts(model, card) -> dict | None:
    """The card :func:`sklearn_genre.save` writes for its ``card`` argument: True (the
    model's own facts), a dict of :data:`CARD_FACTS`, or a complete card; False or None
    for none."""
    if card is None or card is False:
        return None
    if card is True:
        return model_card(model)
    if not isinstance(card, dict):
        raise CardError(f"card must be True, False, None or a dict of {CARD_FACTS}; got "
                        f"{type(card).__name__}.")
    if card.get("format") == FORMAT:
        return _jsonable(card)
    unknown = sorted(set(card) - set(CARD_FACTS))
    if unknown:
        raise CardError(f"card has keys {unknown}; expected some of {list(CARD_FACTS)}.")
    return model_card(model, **card)


def _table(rows, header) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return lines


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_card(card: dict) -> str:
    """Return a card (:func:`model_card`) as a Markdown document.

    Parameters
    ----------
    card : dict

    Returns
    -------
    markdown : str
    """
    model, lines = card.get("model") or {}, [f"# {card.get('title', 'Model card')}", ""]
    lines += ["## Model", ""]
    if model.get("steps"):
        lines.append("Pipeline: " + " -> ".join(f"`{name}` ({kind})"
                                                for name, kind in model["steps"]) + ".")
    facts = [("estimator", model.get("estimator")), ("network", model.get("network")),
             ("output", model.get("output")), ("mel bands", model.get("n_mels")),
             ("parameters of the network", model.get("n_parameters")),
             ("window pooling", model.get("window_pooling"))]
    windows = model.get("windows")
    if windows:
        facts.append(("windows", f"{windows['n_windows']} x {windows['window_frames']} "
                                 f"frames ({windows['seconds']} s each)"))
    lines += [f"- {name}: {value}" for name, value in facts if value is not None]
    if not model.get("fitted", True):
        lines.append("- **not fitted**")
    classes = card.get("classes")
    lines += ["", "## Classes", "",
              ", ".join(f"`{c}`" for c in classes) if classes else "Not fitted: no classes."]
    lines += ["", "## Training data", ""]
    data = card.get("data")
    if data:
        for key in ("collection", "split", "n_tracks", "n_groups", "notes"):
            if data.get(key) is not None:
                label = {"n_tracks": "tracks", "n_groups": "groups (artists, pieces)"}.get(
                    key, key)
                lines.append(f"- {label}: {data[key]}")
        extra = {k: v for k, v in data.items() if k not in ("collection", "split", "n_tracks",
                                                             "n_groups", "notes", "counts",
                                                             "kind")}
        lines += [f"- {key}: {value}" for key, value in extra.items()]
        if data.get("counts"):
            lines += ["", *_table(data["counts"].items(),
                                  ["tag" if data.get("kind") == "tags" else "class",
                                   "tracks"])]
    else:
        lines.append("Not recorded. Pass `card={\"data\": data_summary(y, groups=groups, "
                     "collection=...)}` to `sklearn_genre.save`.")
    lines += ["", "## Training", ""]
    training = card.get("training")
    if training:
        lines.append(f"{training['epochs']} epochs in {training['fit_seconds']} s.")
        curves = [(key, *(_number(training[key][f]) for f in ("first", "last", "best")),
                   training[key]["best_epoch"]) for key in
                  ("train_loss", "valid_loss", "train_acc", "valid_acc", "valid_f1")
                  if key in training]
        lines += ["", *_table(curves, ["curve", "first", "last", "best", "best epoch"])]
    else:
        lines.append("No training curves (not a network, or not fitted).")
    lines += ["", "## Held-out scores", ""]
    scores = card.get("scores")
    if scores:
        lines += _table([(k, _number(v)) for k, v in scores.items()], ["score", "value"])
    else:
        lines.append("Not recorded. Pass `card={\"scores\": {...}, \"command\": \"...\"}` to "
                     "`sklearn_genre.save`, or run `python -m sklearn_genre evaluate`.")
    if card.get("command"):
        lines += ["", "Made by:", "", "```", str(card["command"]), "```"]
    lines += ["", "## Intended use", "", str(card.get("intended_use", ""))]
    lines += ["", "## Known limits", ""] + [f"- {text}" for text in card.get("limitations",
                                                                            [])]
    if card.get("notes"):
        lines += ["", "## Notes", "", str(card["notes"])]
    lines += ["", "## Parameters", ""]
    lines += _table(sorted((card.get("parameters") or {}).items()), ["parameter", "value"])
    lines += ["", "## Software", "",
              ", ".join(f"{k} {v}" for k, v in (card.get("software") or {}).items()), ""]
    return "\n".join(lines)


def write_card(archive: zipfile.ZipFile, card: dict) -> None:
    """Add a card's ``card.json`` and ``README.md`` members to an open archive."""
    archive.writestr(CARD_JSON, json.dumps(card, indent=1))
    archive.writestr(CARD_MARKDOWN, render_card(card))


def read_card(path) -> dict | None:
    """Return the card saved in a ``.sgm`` model file, or None when it has none.

    The model itself is not built (nothing in the file runs).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    card : dict or None
        None for a safe-format file saved without a card, and for any other file
        (joblib, pickle), which carries none.
    """
    path = Path(path)
    if not path.is_file():
        from .exceptions import DataFileError

        raise DataFileError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        if CARD_JSON not in archive.namelist():
            return None
        return json.loads(archive.read(CARD_JSON))
