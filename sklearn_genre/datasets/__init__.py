"""Data sets: the rendered score corpus, MTG-Jamendo mel dumps, and audio collections you
hold (any class-per-folder collection, GTZAN, FMA, Ballroom).

Loaders return :class:`sklearn.utils.Bunch` objects like ``sklearn.datasets.fetch_*``
and never download anything.
"""

from ._audio_folder import AUDIO_EXTENSIONS, load_audio_folder, official_splits
from ._ballroom import load_ballroom
from ._base import get_data_home
from ._corpus import (
    GENRE_INSTRUMENTS,
    INSTRUMENT_POOL,
    ClipVariation,
    render_score_corpus,
    score_catalogue,
)
from ._fma import load_fma, read_fma_tracks
from ._gtzan import load_gtzan
from ._mtg import (
    LazyMelList,
    load_mtg_jamendo,
    load_mtg_jamendo_splits,
    read_mtg_tsv,
    warn_group_overlap,
)
from ._soundfonts import installed_soundfonts
from ._synthetic import make_periodic_tracks
from ._time_major import to_time_major

__all__ = [
    "AUDIO_EXTENSIONS",
    "ClipVariation",
    "GENRE_INSTRUMENTS",
    "INSTRUMENT_POOL",
    "LazyMelList",
    "get_data_home",
    "installed_soundfonts",
    "load_audio_folder",
    "load_ballroom",
    "load_fma",
    "load_gtzan",
    "load_mtg_jamendo",
    "load_mtg_jamendo_splits",
    "make_periodic_tracks",
    "official_splits",
    "read_fma_tracks",
    "read_mtg_tsv",
    "render_score_corpus",
    "score_catalogue",
    "to_time_major",
    "warn_group_overlap",
]
