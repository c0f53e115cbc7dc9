"""The original student project's CNN-RNN, reproduced with its fault, for comparison only.

Not part of the library's public API. The original fed the convolution output of shape
``(batch, 16, 350)`` to ``nn.LSTM(350, 16, num_layers=3)`` without ``batch_first``: PyTorch
then reads it as ``(sequence=batch, batch=16 channels, features=350 time steps)``, so the
recurrence runs across the *tracks of the batch* and every prediction depends on the other
tracks in the batch. Training follows the original README: the first 1400 frames of each
track, no normalization, Adam lr 0.01, weight decay 0.001, batch 256, shuffled, cross-entropy,
no validation-based stopping.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline
from torch import nn

from sklearn_genre import CRNNClassifier, MelTrimmer


class OriginalCRNN(nn.Module):
    """The original layout: conv 96->8->16 (kernel 3, pool 2), LSTM along the batch axis."""

    def __init__(self, n_mels=96, n_classes=11, n_frames=1400, hidden_size=16, num_layers=3,
                 dense_size=32, dropout=0.5):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
        )
        # input_size = the time axis (350 for 1400 frames): time is treated as features
        self.lstm = nn.LSTM(n_frames // 4, hidden_size, num_layers=num_layers, dropout=dropout)
        self.head = nn.Sequential(
            nn.Linear(hidden_size, dense_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(dense_size, n_classes),
        )

    def forward(self, X):
        if X.dim() == 4:  # (batch, 1, n_mels, n_frames) from CRNNClassifier
            X = X[:, 0]
        features = self.conv(X.float())          # (batch, 16, 350)
        out, _ = self.lstm(features)             # seq axis = batch: tracks mix here
        return self.head(out[:, -1, :])          # last "batch" position = last channel


def make_original_pipeline(*, random_state=0, max_epochs=100):
    """Return the original project's model and training, as a scikit-learn pipeline."""
    return Pipeline([
        ("trim", MelTrimmer(n_frames=1400, offset="start")),
        ("clf", CRNNClassifier(
            module=OriginalCRNN, lr=0.01, optimizer__weight_decay=0.001, batch_size=256,
            max_epochs=max_epochs, train_split=None, patience=None, verbose=0,
            random_state=random_state, iterator_valid__batch_size=256,
        )),
    ])
