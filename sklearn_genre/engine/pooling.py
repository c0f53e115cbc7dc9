"""From window logits to one score per track.

A track is scored by several windows with shared weights; :func:`pool_windows` turns the
window logits ``(batch, n_windows, n_outputs)`` into track logits ``(batch, n_outputs)``
such that the estimator's output function of the track logits (softmax for single-label
classes, sigmoid for independent tags) gives the pooled score:

- ``"mean"``: the mean of the window logits;
- ``"max"``: their maximum;
- ``"mean_proba"``: the output function of the result is the mean of the windows'
  probabilities (computed in log space, so it stays finite).
"""

from __future__ import annotations

import math

import torch

__all__ = ["OUTPUTS", "WINDOW_POOLINGS", "check_window_pooling", "pool_windows",
           "window_scores"]

WINDOW_POOLINGS = ("mean", "max", "mean_proba")
OUTPUTS = ("softmax", "sigmoid")


def check_window_pooling(how: str) -> str:
    """Return ``how`` if it names a window pooling, else raise ValueError."""
    if how not in WINDOW_POOLINGS:
        raise ValueError(f"window_pooling must be one of {WINDOW_POOLINGS}, got {how!r}.")
    return how


def _check(how: str, output: str) -> None:
    check_window_pooling(how)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}.")


def pool_windows(logits: torch.Tensor, how: str = "mean", *,
                 output: str = "softmax") -> torch.Tensor:
    """Return track logits from window logits.

    Parameters
    ----------
    logits : torch.Tensor [shape=(batch, n_windows, n_outputs)]
    how : {"mean", "max", "mean_proba"}, default="mean"
    output : {"softmax", "sigmoid"}, default="softmax"
        The output function the track logits are meant for.

    Returns
    -------
    track_logits : torch.Tensor [shape=(batch, n_outputs)]

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.engine import pool_windows
    >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])       # 1 track, 2 windows
    >>> torch.softmax(pool_windows(logits, "mean_proba"), -1)    # mean of the softmaxes
    tensor([[0.5000, 0.5000]])
    >>> torch.sigmoid(pool_windows(logits, "mean_proba", output="sigmoid")).round(decimals=3)
    tensor([[0.6900, 0.6900]])
    """
    _check(how, output)
    if how == "mean":
        return logits.mean(dim=1)
    if how == "max":
        return logits.max(dim=1).values
    log_n = math.log(logits.shape[1])
    if output == "softmax":
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - log_n
    # logit of the mean probability: log(mean p) - log(mean (1 - p)), both in log space
    log_p = torch.logsumexp(torch.nn.functional.logsigmoid(logits), dim=1)
    log_q = torch.logsumexp(torch.nn.functional.logsigmoid(-logits), dim=1)
    return log_p - log_q


def window_scores(logits: torch.Tensor, *, output: str = "softmax") -> torch.Tensor:
    """Return each window's probabilities: softmax over classes or sigmoid per tag.

    Parameters
    ----------
    logits : torch.Tensor [shape=(batch, n_windows, n_outputs)]
    output : {"softmax", "sigmoid"}

    Returns
    -------
    scores : torch.Tensor [shape=(batch, n_windows, n_outputs)]
    """
    _check("mean", output)
    return torch.softmax(logits, dim=-1) if output == "softmax" else torch.sigmoid(logits)
