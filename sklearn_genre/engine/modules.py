"""The networks: plain ``torch.nn.Module`` classes that score windows of mel-spectrograms.

- :class:`ShortChunkCRNN`: 2-D convolutions over (mel, time) with batch normalization
  (the short-chunk CNN front end of Won et al. 2020), a bidirectional GRU over time,
  pooling over time: the package's default network.
- :class:`CRNN`: the original project's design, 1-D convolutions over time with the mel
  bands as channels and an LSTM over time (its documented sizes are the ``"seed"``
  preset); with the fast CPU layers of :mod:`sklearn_genre.engine.layers`.

Both take ``X`` of shape ``(batch, n_mels, n_frames)`` or ``(batch, n_windows, n_mels,
window_frames)``; ``window_logits`` returns ``(batch, n_windows, n_outputs)`` and
``forward`` the track logits pooled by ``window_pooling``
(:func:`~sklearn_genre.engine.pool_windows`, for a softmax output).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Conv1d, Dropout, MaxPoolReLU, stacked_lstm
from .pooling import check_window_pooling, pool_windows

__all__ = ["CRNN", "NORMS", "RNNS", "ShortChunkCRNN", "TIME_POOLINGS", "WindowNetwork",
           "as_windows", "pool_time"]

TIME_POOLINGS = ("last", "mean", "attention")


def pool_time(sequence: torch.Tensor, how: str, attention=None) -> torch.Tensor:
    """One vector per window from a sequence ``(N, time, features)``: its mean, maximum,
    last step, or attention-weighted sum (``attention``: a ``Linear(features, 1)``)."""
    if how == "mean":
        return sequence.mean(dim=1)
    if how == "max":
        return sequence.amax(dim=1)
    if how == "last":
        return sequence[:, -1]
    weights = torch.softmax(attention(sequence), dim=1)
    return (weights * sequence).sum(dim=1)


class WindowNetwork(nn.Module):
    """Base of the networks: ``window_logits`` per window, ``forward`` pooled per track.

    Subclasses set ``n_mels`` and ``window_pooling`` and implement ``window_logits(X)``,
    ``X [shape=(batch, n_windows, n_mels, window_frames)]`` to ``(batch, n_windows,
    n_outputs)``.
    """

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return one vector of logits per track, shape ``(batch, n_outputs)``."""
        X = as_windows(X, self.n_mels, type(self).__name__)
        return pool_windows(self.window_logits(X), self.window_pooling)


def as_windows(X: torch.Tensor, n_mels: int, name: str) -> torch.Tensor:
    """``X`` as 4-D windows ``(batch, n_windows, n_mels, n_frames)``; a clear error otherwise."""
    if X.dim() == 3:
        X = X.unsqueeze(1)
    if X.dim() != 4:
        raise ValueError(
            f"{name} expects input of shape (batch, n_mels, n_frames) or (batch, n_windows, "
            f"n_mels, window_frames), got {tuple(X.shape)}.")
    if X.shape[2] != n_mels:
        raise ValueError(f"{name} was built for {n_mels} mel bands, got {X.shape[2]}.")
    return X


class CRNN(WindowNetwork):
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
        check_window_pooling(window_pooling)
        if isinstance(conv_channels, int):
            conv_channels = (conv_channels,)
        self.n_mels = n_mels
        self.time_pooling = time_pooling
        self.window_pooling = window_pooling
        self.pool_size = pool_size
        layers = []
        in_channels = n_mels
        for out_channels in conv_channels:
            # three entries per block keep the parameter names of conv, ReLU, pool
            layers += [
                Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
                MaxPoolReLU(pool_size),
                nn.Identity(),
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
            Dropout(dropout),
            nn.Linear(dense_size, n_classes),
        )

    def _run_lstm(self, x: torch.Tensor) -> torch.Tensor:
        """The LSTM over ``x`` (N, time, features).

        Without dropout to apply, the fused multi-layer kernel runs; in training it runs
        layer by layer (the same parameters, :func:`~sklearn_genre.engine.layers.stacked_lstm`)
        so the masks come from this thread's dropout generator rather than torch's global one.
        """
        lstm = self.lstm
        if not (self.training and lstm.dropout > 0 and lstm.num_layers > 1):
            return lstm(x)[0]
        return stacked_lstm(lstm, x, lstm.dropout)

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
        sequence = self._run_lstm(features.transpose(1, 2))
        pooled = pool_time(sequence, self.time_pooling, self.attention)
        return self.head(pooled).reshape(batch, n_windows, -1)


NORMS = ("batch", None)
INPUT_NORMS = ("band", "global", None)
RNNS = ("gru", "lstm", None)
CHUNK_TIME_POOLINGS = ("mean", "max", "attention", "last")


def _pooled_size(size: int, pool: int) -> tuple[int, int]:
    """(kernel, size after pooling): a pool that does not fit is skipped."""
    return (pool, size // pool) if size >= pool else (1, size)


class ShortChunkCRNN(WindowNetwork):
    """2-D CNN over (mel, time) with batch norm, a recurrent layer over time, pooled head.

    Per window ``(n_mels, window_frames)``: an optional learned input normalization,
    blocks of 3x3 convolution, batch normalization, ReLU and max-pooling over
    (frequency, time) (Won et al. 2020, "Evaluation of CNN-based automatic music tagging
    models": the short-chunk CNN), the maximum over what is left of the frequency axis,
    a (bidirectional) GRU or LSTM running **over time** (``batch_first``: windows and
    tracks never mix), pooling over time, dropout and one linear output per class. The
    windows of a track share the weights; :func:`~sklearn_genre.engine.pool_windows`
    pools their logits.

    Parameters
    ----------
    n_mels : int, default=96
    n_classes : int, default=2
        Number of outputs (classes or tags).
    channels : tuple of int, default=(16, 32, 64, 64, 128)
        Output channels of the convolution blocks.
    pools : tuple of (int, int), default=((2, 2), (2, 2), (2, 2), (2, 1), (2, 1))
        (frequency, time) max-pooling after each block; a pool larger than what is left
        of an axis is skipped, so short or narrow windows still work. With 96 bands and
        128 frames the GRU sees 16 steps.
    kernel_size : int, default=3
    norm : {"batch", None}, default="batch"
        Normalization after each convolution.
    input_norm : {"band", "global", None}, default="band"
        Learned normalization of the input: batch normalization per mel band (keeps the
        spectral shape, i.e. timbre, relative to the training data), one for all bands,
        or none.
    rnn : {"gru", "lstm", None}, default="gru"
        Recurrent layer over time; None pools the convolution features directly.
    hidden_size : int, default=64
    num_layers : int, default=1
    bidirectional : bool, default=True
    time_pooling : {"mean", "max", "attention", "last"}, default="mean"
        How the sequence becomes one vector per window.
    dropout : float, default=0.5
        Before the output layer (and between recurrent layers).
    stats_head : bool, default=False
        Also feed the per-band mean and standard deviation of each window to the output
        layer (through a 32-unit ReLU layer).
    rhythm_channels : int, default=0
        Channels of a rhythm branch beside the 2-D convolutions: the bands averaged in
        ``rhythm_groups`` groups, three 1-D convolutions over time at full time
        resolution (kernel 9, dilations 1, 2 and 4: 57 frames, about 1.2 s) with batch
        normalization, max-pooled to the recurrent layer's time steps and concatenated to
        its input (the temporal filters of Pons et al. 2016). The 2-D branch pools time
        8-fold, which hides periods shorter than about 16 frames; this branch sees them.
        0 leaves it out.
    rhythm_groups : int, default=12
    window_pooling : {"mean", "max", "mean_proba"}, default="mean_proba"
        How the windows of a track are pooled by ``forward`` (softmax output).

    Notes
    -----
    ``forward`` takes ``X [shape=(batch, n_mels, n_frames) or (batch, n_windows, n_mels,
    window_frames)]`` (float16 or float32) and returns ``(batch, n_classes)`` logits;
    ``window_logits`` returns ``(batch, n_windows, n_classes)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_genre.engine import ShortChunkCRNN
    >>> net = ShortChunkCRNN(n_mels=96, n_classes=10).eval()
    >>> net.window_logits(torch.randn(2, 8, 96, 128)).shape       # 2 tracks x 8 windows
    torch.Size([2, 8, 10])
    >>> net(torch.randn(2, 96, 300)).shape                        # one window of 300 frames
    torch.Size([2, 10])
    """

    def __init__(
        self,
        n_mels: int = 96,
        n_classes: int = 2,
        channels=(16, 32, 64, 64, 128),
        pools=((2, 2), (2, 2), (2, 2), (2, 1), (2, 1)),
        kernel_size: int = 3,
        norm="batch",
        input_norm="band",
        rnn="gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        time_pooling: str = "mean",
        dropout: float = 0.5,
        stats_head: bool = False,
        rhythm_channels: int = 0,
        rhythm_groups: int = 12,
        window_pooling: str = "mean_proba",
    ):
        super().__init__()
        channels = (channels,) if isinstance(channels, int) else tuple(channels)
        pools = tuple(tuple(p) for p in pools)
        for name, value, options in (("norm", norm, NORMS), ("input_norm", input_norm,
                                                             INPUT_NORMS),
                                     ("rnn", rnn, RNNS),
                                     ("time_pooling", time_pooling, CHUNK_TIME_POOLINGS)):
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}.")
        if len(pools) != len(channels) or any(len(p) != 2 for p in pools):
            raise ValueError(f"pools must give one (frequency, time) pair per convolution "
                             f"block: {len(channels)} blocks, got {pools!r}.")
        self.n_mels = n_mels
        self.pools = pools
        self.time_pooling = time_pooling
        self.window_pooling = check_window_pooling(window_pooling)
        self.input_norm = (nn.BatchNorm1d(n_mels) if input_norm == "band" else
                           nn.BatchNorm2d(1) if input_norm == "global" else None)
        convs, norms, in_channels = [], [], 1
        for out_channels in channels:
            convs.append(nn.Conv2d(in_channels, out_channels, kernel_size,
                                   padding=kernel_size // 2, bias=norm is None))
            norms.append(nn.BatchNorm2d(out_channels) if norm == "batch" else nn.Identity())
            in_channels = out_channels
        # channels-last weights make every convolution, pooling and batch norm of the
        # stack run channels-last on the CPU (a one-channel input cannot carry that layout
        # itself): 1.6x faster training, 2.0x faster prediction (bench_fit_time.py)
        self.convs = nn.ModuleList(convs).to(memory_format=torch.channels_last)
        self.norms = nn.ModuleList(norms)
        self.rhythm_groups = rhythm_groups
        self.rhythm = None
        if rhythm_channels:
            layers, width = [], rhythm_groups
            for dilation in (1, 2, 4):
                layers += [nn.Conv1d(width, rhythm_channels, 9, padding=4 * dilation,
                                     dilation=dilation, bias=norm is None),
                           nn.BatchNorm1d(rhythm_channels) if norm == "batch" else
                           nn.Identity(), nn.ReLU(inplace=True)]
                width = rhythm_channels
            self.rhythm = nn.Sequential(*layers)
            in_channels += rhythm_channels
        if rnn is None:
            self.rnn, features = None, in_channels
        else:
            cls = nn.GRU if rnn == "gru" else nn.LSTM
            self.rnn = cls(in_channels, hidden_size, num_layers=num_layers, batch_first=True,
                           bidirectional=bidirectional,
                           dropout=dropout if num_layers > 1 else 0.0)
            features = hidden_size * (2 if bidirectional else 1)
        self.attention = nn.Linear(features, 1) if time_pooling == "attention" else None
        self.stats = nn.Sequential(nn.Linear(2 * n_mels, 32), nn.ReLU()) if stats_head \
            else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(features + (32 if stats_head else 0), n_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution features ``(N, time, channels)`` of windows ``(N, mels, frames)``."""
        if isinstance(self.input_norm, nn.BatchNorm1d):
            x = self.input_norm(x)
        x = x.unsqueeze(1)
        if isinstance(self.input_norm, nn.BatchNorm2d):
            x = self.input_norm(x)
        for conv, norm, (pool_f, pool_t) in zip(self.convs, self.norms, self.pools):
            x = conv(x)
            kernel_f, _ = _pooled_size(x.shape[2], pool_f)
            kernel_t, _ = _pooled_size(x.shape[3], pool_t)
            if kernel_f > 1 or kernel_t > 1:
                # pooled before the normalization: 4x less work for both (measured)
                x = nn.functional.max_pool2d(x, (kernel_f, kernel_t))
            x = nn.functional.relu(norm(x))
        return x.amax(dim=2).transpose(1, 2)

    def window_logits(self, X: torch.Tensor) -> torch.Tensor:
        """Return logits ``(batch, n_windows, n_classes)`` of windows ``(batch, n_windows,
        n_mels, window_frames)``."""
        batch, n_windows, n_mels, n_frames = X.shape
        x = X.reshape(batch * n_windows, n_mels, n_frames).float()
        sequence = self._features(x)
        if self.rhythm is not None:
            groups = nn.functional.adaptive_avg_pool2d(x.unsqueeze(1),
                                                       (self.rhythm_groups, n_frames))[:, 0]
            rhythm = nn.functional.adaptive_max_pool1d(self.rhythm(groups),
                                                       sequence.shape[1])
            sequence = torch.cat([sequence, rhythm.transpose(1, 2)], dim=2)
        if self.rnn is not None:
            sequence = self.rnn(sequence)[0]
        pooled = pool_time(sequence, self.time_pooling, self.attention)
        if self.stats is not None:
            pooled = torch.cat([pooled, self.stats(torch.cat(
                [x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1))], dim=1)
        return self.head(self.dropout(pooled)).reshape(batch, n_windows, -1)
