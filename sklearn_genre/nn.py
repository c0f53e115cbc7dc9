"""Plain PyTorch modules: the CNN-RNN that scores mel-spectrogram windows.

No scikit-learn in here; :class:`sklearn_genre.CRNNClassifier` wraps these with skorch.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CRNN", "TIME_POOLINGS", "WINDOW_POOLINGS"]

TIME_POOLINGS = ("last", "mean", "attention")
WINDOW_POOLINGS = ("mean", "max", "mean_proba")


class CRNN(nn.Module):
    """CNN-RNN scoring windows of a mel-spectrogram and pooling them per track.

    Per window: two 1-D convolutions over time with the mel bands as input channels
    (each followed by ReLU and max-pooling), an LSTM running **over time**
    (``batch_first=True``, so tracks never mix), pooling over time, then a dense
    layer with ReLU and dropout and one output per class. The windows of a track are
    scored with shared weights and pooled into one output per track.

    Parameters
    ----------
    n_mels : int, default=96
        Number of mel bands (input channels).
    n_classes : int, default=2
        Number of outputs.
    conv_channels : tuple of int, default=(8, 16)
        Output channels of the successive convolutions.
    kernel_size : int, default=3
    pool_size : int, default=2
    hidden_size : int, default=16
        LSTM hidden size.
    num_layers : int, default=3
        LSTM layers.
    dense_size : int, default=32
    dropout : float, default=0.5
        Dropout between LSTM layers and after the dense layer.
    time_pooling : {"last", "mean", "attention"}, default="mean"
        How the LSTM outputs over time become one vector per window.
    window_pooling : {"mean", "max", "mean_proba"}, default="mean"
        How window outputs become one output per track: the mean or max of the
        window logits, or the log of the mean of window softmax probabilities.

    Notes
    -----
    ``forward`` takes ``X`` of shape ``(batch, n_mels, n_frames)`` or
    ``(batch, n_windows, n_mels, window_frames)``, float16 or float32, and returns
    logits of shape ``(batch, n_classes)``.
    """

    def __init__(
        self,
        n_mels: int = 96,
        n_classes: int = 2,
        conv_channels=(8, 16),
        kernel_size: int = 3,
        pool_size: int = 2,
        hidden_size: int = 16,
        num_layers: int = 3,
        dense_size: int = 32,
        dropout: float = 0.5,
        time_pooling: str = "mean",
        window_pooling: str = "mean",
    ):
        super().__init__()
        if time_pooling not in TIME_POOLINGS:
            raise ValueError(
                f"time_pooling must be one of {TIME_POOLINGS}, got {time_pooling!r}."
            )
        if window_pooling not in WINDOW_POOLINGS:
            raise ValueError(
                f"window_pooling must be one of {WINDOW_POOLINGS}, got {window_pooling!r}."
            )
        if isinstance(conv_channels, int):
            conv_channels = (conv_channels,)
        self.n_mels = n_mels
        self.time_pooling = time_pooling
        self.window_pooling = window_pooling
        self.pool_size = pool_size
        layers = []
        in_channels = n_mels
        for out_channels in conv_channels:
            layers += [
                nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool1d(pool_size),
            ]
            in_channels = out_channels
        self.conv = nn.Sequential(*layers)
        self.lstm = nn.LSTM(
            input_size=in_channels,
            hidden_size=hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = nn.Linear(hidden_size, 1) if time_pooling == "attention" else None
        self.head = nn.Sequential(
            nn.Linear(hidden_size, dense_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense_size, n_classes),
        )

    def window_logits(self, X: torch.Tensor) -> torch.Tensor:
        """Return logits per window.

        Parameters
        ----------
        X : torch.Tensor [shape=(batch, n_windows, n_mels, window_frames)]

        Returns
        -------
        logits : torch.Tensor [shape=(batch, n_windows, n_classes)]
        """
        batch, n_windows, n_mels, n_frames = X.shape
        features = self.conv(X.reshape(batch * n_windows, n_mels, n_frames).float())
        # (N, channels, time) -> (N, time, channels): the LSTM runs over time, per window.
        sequence, _ = self.lstm(features.transpose(1, 2))
        if self.time_pooling == "last":
            pooled = sequence[:, -1]
        elif self.time_pooling == "mean":
            pooled = sequence.mean(dim=1)
        else:
            weights = torch.softmax(self.attention(sequence), dim=1)
            pooled = (weights * sequence).sum(dim=1)
        return self.head(pooled).reshape(batch, n_windows, -1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return one vector of logits per track, shape ``(batch, n_classes)``."""
        if X.dim() == 3:
            X = X.unsqueeze(1)
        if X.dim() != 4:
            raise ValueError(
                f"CRNN expects input of shape (batch, n_mels, n_frames) or (batch, n_windows, "
                f"n_mels, window_frames), got {tuple(X.shape)}."
            )
        if X.shape[2] != self.n_mels:
            raise ValueError(f"CRNN was built for {self.n_mels} mel bands, got {X.shape[2]}.")
        logits = self.window_logits(X)
        if self.window_pooling == "mean":
            return logits.mean(dim=1)
        if self.window_pooling == "max":
            return logits.max(dim=1).values
        # log of the mean probability: softmax of this gives the mean window probability
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - torch.log(
            torch.tensor(float(logits.shape[1]), device=logits.device)
        )
