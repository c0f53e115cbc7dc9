"""Data sets: the rendered score corpus and the MTG-Jamendo loader.

Loaders return :class:`sklearn.utils.Bunch` objects like ``sklearn.datasets.fetch_*``
and never download anything.
"""

from ._base import get_data_home
from ._corpus import INSTRUMENT_POOL, render_score_corpus, score_catalogue

__all__ = ["INSTRUMENT_POOL", "get_data_home", "render_score_corpus", "score_catalogue"]
