"""The Ballroom data set (ISMIR 2004 rhythm contest, Gouyon et al.) from a copy you hold.

Layout: ``BallroomData/<style>/*.wav``, 698 excerpts of about 30 s in eight dance styles
(Rumba in three folders). The collection names no artists; file names of the form
``Albums-<album>-<NN>.wav`` name the album (the others, ``Media-<id>.wav``, do not).
"""

from __future__ import annotations

import re

from ..exceptions import DataFileError
from ._audio_folder import AudioEntry, check_options, check_root, collection_bunch, is_audio_file

__all__ = ["load_ballroom", "BALLROOM_STYLES"]

BALLROOM_STYLES = ("ChaChaCha", "Jive", "Quickstep", "Rumba-American", "Rumba-International",
                   "Rumba-Misc", "Samba", "Tango", "VienneseWaltz", "Waltz")
_ALBUM = re.compile(r"^Albums-(?P<album>.+)-\d+$")
_CITATION = ("Gouyon, Klapuri, Dixon, Alonso, Tzanetakis, Uhle & Cano, 'An experimental "
             "comparison of audio tempo induction algorithms', IEEE TASLP 2006 (ISMIR 2004 "
             "rhythm contest data, from ballroomdancers.com).")


def load_ballroom(root, *, merge_rumba=True, mel=None, on_error="raise", n_jobs=None,
                  data_home=None, cache=True, lazy=False, verbose=None):
    """Load the Ballroom data set from a copy you hold; the dance style is the label.

    Parameters
    ----------
    root : str or path-like
        The folder holding ``BallroomData/`` (or ``BallroomData`` itself).
    merge_rumba : bool, default=True
        Label Rumba-American, Rumba-International and Rumba-Misc as ``"Rumba"`` (eight
        classes); False keeps the three folders apart (ten).
    mel : MelSpectrogram or None, default=None
    on_error : {"raise", "skip"}, default="raise"
    n_jobs, data_home, cache, lazy, verbose
        As in :func:`load_audio_folder`.

    Returns
    -------
    data : sklearn.utils.Bunch
        As :func:`load_audio_folder` returns. The collection names no artist, so each
        file is its own group (``groups`` = ``track_ids``, the file stems); ``albums``
        holds the album named in ``Albums-<album>-NN.wav`` file names (``"unknown:<stem>"``
        for the others), a coarser grouping for album-disjoint splits.

    Examples
    --------
    >>> from sklearn_genre.datasets import load_ballroom
    >>> ballroom = load_ballroom("~/data/ballroom", n_jobs=-1)  # doctest: +SKIP
    >>> sorted(set(ballroom.target))  # doctest: +SKIP
    ['ChaChaCha', 'Jive', 'Quickstep', 'Rumba', 'Samba', 'Tango', 'VienneseWaltz', 'Waltz']
    """
    check_options(on_error=on_error, mel=mel, min_seconds=None, cache=cache, lazy=lazy)
    expected = (f"{root}/BallroomData/<style>/*.wav with styles {', '.join(BALLROOM_STYLES)}")
    root = check_root(root, expected)
    folder = root / "BallroomData" if (root / "BallroomData").is_dir() else root
    entries, albums = [], []
    for style in BALLROOM_STYLES:
        style_dir = folder / style
        if not style_dir.is_dir():
            continue
        label = "Rumba" if merge_rumba and style.startswith("Rumba-") else style
        for path in sorted(p for p in style_dir.iterdir() if is_audio_file(p)):
            match = _ALBUM.match(path.stem)
            entries.append(AudioEntry(path=path, target=label, track_id=path.stem,
                                      group=path.stem))
            albums.append(match["album"] if match else f"unknown:{path.stem}")
    if not entries:
        raise DataFileError(f"no Ballroom audio under {root}; expected {expected}.")
    n_styles = len({e.path.parent.name for e in entries})
    header = (f"Ballroom from {folder}: {n_styles} style folders"
              f"{', Rumba folders merged' if merge_rumba else ''}.\n{_CITATION}")
    group_note = ("groups: the collection names no artist, so each file is its own group "
                  "(splits may put one album on both sides); `albums` has the album of "
                  "files named Albums-<album>-NN.wav.")
    return collection_bunch(entries, name="Ballroom", header=header, mel=mel,
                            on_error=on_error, n_jobs=n_jobs, data_home=data_home,
                            cache=cache, lazy=lazy, verbose=verbose, group_note=group_note,
                            extras={"albums": albums})
