"""The one place that touches torch's private names.

Each private name is looked up once, here; code that needs it calls the function below,
which raises a clear ``RuntimeError`` on a torch that lacks it (never a silent change of
behaviour). ``tests/test_engine.py`` checks that the supported torch releases have them.
"""

from __future__ import annotations

import torch

__all__ = ["has_storage_use_count", "storage_use_count"]

_storage_use_count = getattr(torch._C, "_storage_Use_Count", None)


def has_storage_use_count() -> bool:
    """Whether this torch can count the references to a tensor's storage."""
    return _storage_use_count is not None


def storage_use_count(tensor) -> int:
    """Return how many tensors and views (and storage objects) hold ``tensor``'s memory.

    ``tensor`` may also be a ``torch.UntypedStorage``.

    Reused batch buffers are handed out again only when nothing but their owner holds
    them; torch has no public way to ask (``torch._C._storage_Use_Count``).

    Raises
    ------
    RuntimeError
        On a torch without that function.
    """
    if _storage_use_count is None:
        raise RuntimeError(
            f"torch {torch.__version__} has no torch._C._storage_Use_Count, which "
            "sklearn_genre's reused batch buffers need; install a torch release the "
            "package supports (pyproject.toml) or report the new release.")
    storage = tensor if isinstance(tensor, torch.UntypedStorage) else tensor.untyped_storage()
    return int(_storage_use_count(storage._cdata))
