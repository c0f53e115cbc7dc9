"""Plain PyTorch modules: the CNN-RNN that scores mel-spectrogram windows.

No scikit-learn in here; :class:`sklearn_genre.CRNNClassifier` wraps these with skorch.
"""

from __future__ import annotations

import contextlib
import threading

import torch
from torch import nn

__all__ = ["CRNN", "TIME_POOLINGS", "WINDOW_POOLINGS", "dropout_generator"]

_local = threading.local()


@contextlib.contextmanager
def dropout_generator(generator):
    """Draw this thread's dropout masks from ``generator`` inside the block.

    The network's dropout uses this generator instead of torch's global one, so
    batches split across threads draw reproducible masks whatever the scheduling.
    """
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield
    finally:
        _local.generator = previous


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout drawing from :func:`dropout_generator`'s generator (or torch's)."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    generator = getattr(_local, "generator", None)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` whose masks come from :func:`dropout_generator`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _dropout(x, self.p, self.training)


class _Conv1dMatmul(torch.autograd.Function):
    """Zero-padded stride-1 ``conv1d`` as one batched matrix product plus shifted adds.

    oneDNN's convolution is slow on CPU for many input channels and few output
    channels with time contiguous in memory (96 mel bands -> 8 channels): this form
    reads the input once per pass and is 2-4x faster there.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        out_channels, _, kernel = weight.shape
        batch, _, n_in = x.shape
        n_out = n_in + 2 * padding - kernel + 1
        stacked = weight.permute(2, 0, 1).reshape(kernel * out_channels, -1)
        z = torch.matmul(stacked, x).view(batch, kernel, out_channels, n_in)
        if n_out == n_in:  # "same" padding: the centre tap covers every output frame
            out = z[:, padding] + bias.view(1, -1, 1)
            taps = [k for k in range(kernel) if k != padding]
        else:
            out = bias.view(1, -1, 1).expand(batch, out_channels, n_out).contiguous()
            taps = range(kernel)
        for k in taps:
            # out[t] += z_k[t + k - padding] where the input index is in range
            lo, hi = max(padding - k, 0), min(n_in + padding - k, n_out)
            if hi > lo:
                out[:, :, lo:hi] += z[:, k, :, lo + k - padding:hi + k - padding]
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        padding = ctx.padding
        out_channels, in_channels, kernel = weight.shape
        batch, _, n_in = x.shape
        n_out = grad_out.shape[-1]
        # shifted[b, k, o, j] = grad_out[b, o, j - k + padding]: what input index j receives
        shifted = grad_out.new_zeros(batch, kernel, out_channels, n_in)
        for k in range(kernel):
            lo, hi = max(padding - k, 0), min(n_in + padding - k, n_out)
            if hi > lo:
                shifted[:, k, :, lo + k - padding:hi + k - padding] = grad_out[:, :, lo:hi]
        shifted = shifted.view(batch, kernel * out_channels, n_in)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            stacked = weight.permute(2, 0, 1).reshape(kernel * out_channels, in_channels)
            grad_x = torch.matmul(stacked.t(), shifted)
        if ctx.needs_input_grad[1]:
            grad_stacked = torch.matmul(shifted, x.transpose(1, 2)).sum(dim=0)
            grad_weight = grad_stacked.view(kernel, out_channels, in_channels).permute(1, 2, 0)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum(dim=(0, 2))
        return grad_x, grad_weight, grad_bias, None


class Conv1d(nn.Conv1d):
    """:class:`torch.nn.Conv1d` with a faster float32 CPU path (same parameters).

    Zero-padded, stride-1, undilated, ungrouped float32 convolutions on CPU outside
    autocast run as :class:`_Conv1dMatmul`; everything else runs torch's kernel.
    Outputs agree with ``torch.nn.functional.conv1d`` to float32 rounding.
    """

    def _conv_forward(self, x, weight, bias):
        if (x.device.type == "cpu" and x.dtype == torch.float32 and bias is not None
                and self.stride == (1,) and self.dilation == (1,) and self.groups == 1
                and self.padding_mode == "zeros" and isinstance(self.padding, tuple)
                and not torch.is_autocast_enabled("cpu")):
            return _Conv1dMatmul.apply(x, weight, bias, self.padding[0])
        return super()._conv_forward(x, weight, bias)


class _MaxPoolReLU(torch.autograd.Function):
    """Max-pool (kernel = stride = ``p``) then ReLU, with a one-pass backward.

    The forward saves a 0/1 weight per input frame: 1 where the frame is the first
    maximum of its pool and the pooled value is positive. The backward is one
    broadcast product, about 2x faster than autograd's ``amax`` backward (which
    compares, counts ties and divides). On exact ties the first frame of the pool
    takes the gradient, as in ``max_pool1d``.
    """

    @staticmethod
    def forward(ctx, x, p):
        n = x.shape[-1] // p * p
        out = torch.nn.functional.max_pool1d(x, p)
        pools = x[..., :n].unflatten(-1, (-1, p))
        if p == 2:
            first = pools[..., 0] >= pools[..., 1]
            first = torch.stack((first, ~first), dim=-1)
        else:
            first = torch.nn.functional.one_hot(pools.argmax(dim=-1), p).bool()
        weight = (first & (out > 0).unsqueeze(-1)).to(x.dtype)
        ctx.save_for_backward(weight)
        ctx.n_in = x.shape[-1]
        return out.clamp_min_(0)

    @staticmethod
    def backward(ctx, grad_out):
        (weight,) = ctx.saved_tensors
        grad = (grad_out.unsqueeze(-1) * weight).flatten(-2)
        if grad.shape[-1] != ctx.n_in:  # trailing frames outside every pool
            grad = torch.nn.functional.pad(grad, (0, ctx.n_in - grad.shape[-1]))
        return grad, None


class MaxPoolReLU(nn.Module):
    """Max-pool over time then ReLU: the same values as ReLU then max-pool, cheaper.

    ReLU is monotonic, so it commutes with the maximum; pooling first halves the
    ReLU's work. Trailing frames that do not fill a pool are dropped, as in
    ``MaxPool1d``. With gradients, :class:`_MaxPoolReLU` computes both in one
    function with a one-pass backward.
    """

    def __init__(self, pool_size: int):
        super().__init__()
        self.pool_size = pool_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pool_size
        if x.shape[-1] < p:
            raise ValueError(
                f"a window is {x.shape[-1]} steps long at a pooling layer of size {p}: too "
                "short for the network; use longer windows (MelWindower) or fewer layers.")
        if x.requires_grad and torch.is_grad_enabled():
            return _MaxPoolReLU.apply(x, p)
        return torch.nn.functional.max_pool1d(x, p).clamp_min_(0)

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
        """The LSTM over ``x`` (N, time, features); dropout between layers via ``_dropout``.

        Without dropout to apply, the fused multi-layer kernel runs; in training it runs
        layer by layer (the same parameters) so the masks come from this thread's
        :func:`dropout_generator` rather than torch's global generator.
        """
        lstm = self.lstm
        if not (self.training and lstm.dropout > 0 and lstm.num_layers > 1):
            return lstm(x)[0]
        h0 = x.new_zeros(1, x.shape[0], lstm.hidden_size)
        for layer in range(lstm.num_layers):
            weights = [getattr(lstm, f"{name}_l{layer}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            x = torch._VF.lstm(x, (h0, h0), weights, True, 1, 0.0, True, False, True)[0]
            if layer < lstm.num_layers - 1:
                x = _dropout(x, lstm.dropout, True)
        return x

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
