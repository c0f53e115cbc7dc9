"""Layers with a faster CPU path or a reproducible random stream.

- :class:`Conv1d`: zero-padded stride-1 convolutions as one matrix product (2-4x faster
  on CPU for many input channels and few output channels);
- :class:`MaxPoolReLU`: max-pooling then ReLU with a one-pass backward;
- :class:`Dropout` and :func:`stacked_lstm`: dropout masks drawn from this thread's
  :func:`dropout_generator`, so batches split across threads (``engine.parallel``) draw
  reproducible masks whatever the scheduling.
"""

from __future__ import annotations

import contextlib
import threading

import torch
from torch import nn

__all__ = ["Conv1d", "Dropout", "MaxPoolReLU", "dropout_generator", "stacked_lstm"]

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


_template_lock = threading.Lock()


def _single_layer(lstm: nn.LSTM, layer: int) -> nn.LSTM:
    """A one-layer LSTM shaped like ``layer`` of ``lstm``, this thread's own (its weights
    are swapped for ``lstm``'s during a call, so threads of a split batch never share
    one; its initial weights are never used)."""
    templates = lstm.__dict__.setdefault("_sklearn_genre_layers", {})
    input_size = lstm.input_size if layer == 0 else lstm.hidden_size
    key = (threading.get_ident(), input_size, lstm.hidden_size, lstm.bias)
    if key not in templates:
        # built without drawing from torch's generator, under a lock: the generator's
        # state is saved and put back, and threads of a split batch may get here together
        with _template_lock, torch.random.fork_rng(devices=[]):
            templates[key] = nn.LSTM(input_size, lstm.hidden_size, num_layers=1,
                                     bias=lstm.bias, batch_first=True)
    return templates[key]


def stacked_lstm(lstm: nn.LSTM, x: torch.Tensor, dropout: float) -> torch.Tensor:
    """Run a multi-layer ``batch_first`` LSTM layer by layer with :func:`_dropout` between.

    The same parameters and result as ``lstm(x)[0]`` in training, but the masks between
    layers come from this thread's :func:`dropout_generator` instead of torch's global
    generator. Each layer is a call of a one-layer LSTM with ``lstm``'s weights
    (``torch.func.functional_call``).

    Parameters
    ----------
    lstm : torch.nn.LSTM [batch_first=True, unidirectional]
    x : torch.Tensor [shape=(batch, time, input_size)]
    dropout : float

    Returns
    -------
    output : torch.Tensor [shape=(batch, time, hidden_size)]
    """
    for layer in range(lstm.num_layers):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if lstm.bias else \
            ("weight_ih", "weight_hh")
        weights = {f"{name}_l0": getattr(lstm, f"{name}_l{layer}") for name in names}
        x = torch.func.functional_call(_single_layer(lstm, layer), weights, (x,))[0]
        if layer < lstm.num_layers - 1:
            x = _dropout(x, dropout, True)
    return x
