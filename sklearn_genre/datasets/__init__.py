"""Data sets: the rendered score corpus and the MTG-Jamendo loader.

Loaders return :class:`sklearn.utils.Bunch` objects like ``sklearn.datasets.fetch_*``
and never download anything.
"""

from ._base import get_data_home
from ._corpus import INSTRUMENT_POOL, render_score_corpus, score_catalogue
from ._mtg import (
    LazyMelList,
    load_mtg_jamendo,
    load_mtg_jamendo_splits,
    read_mtg_tsv,
    warn_group_overlap,
)
from ._time_major import to_time_major

__all__ = [
    "INSTRUMENT_POOL",
    "LazyMelList",
    "get_data_home",
    "load_mtg_jamendo",
    "load_mtg_jamendo_splits",
    "read_mtg_tsv",
    "render_score_corpus",
    "score_catalogue",
    "to_time_major",
    "warn_group_overlap",
]
