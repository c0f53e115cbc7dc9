import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    """Seed numpy and torch for every test."""
    np.random.seed(0)  # noqa: NPY002 - seeds legacy global users too
    torch.manual_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def ragged(rng):
    """Three tracks of different lengths in dB, the list container."""
    return [rng.normal(-40, 10, (96, n)).astype(np.float32) for n in (3000, 500, 1400)]


#: A small network of the default family (ShortChunkCRNN) for tests where its size does
#: not matter: the default one costs about 10x more per window.
SMALL_NET = {"module__channels": (8, 16), "module__pools": ((2, 2), (2, 2)),
             "module__hidden_size": 16}


def make_separable(rng, n_tracks=60, n_mels=16, n_frames=64, labels=("blues", "rock")):
    """Tracks whose class shows as a louder block of low bands: learnable in seconds."""
    X = rng.normal(size=(n_tracks, n_mels, n_frames)).astype(np.float32)
    y = np.array([labels[i % len(labels)] for i in range(n_tracks)], dtype=object)
    for k, label in enumerate(labels):
        X[y == label, (k * 4) % n_mels:(k * 4) % n_mels + 4] += 2.0
    return X, y


@pytest.fixture
def separable(rng):
    return make_separable(rng)


#: Cases tried by the property-based tests, reported at the end of the run.
PROPERTY_CASES: dict = {}


def count_case(entry_point: str) -> None:
    PROPERTY_CASES[entry_point] = PROPERTY_CASES.get(entry_point, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if PROPERTY_CASES:
        total = sum(PROPERTY_CASES.values())
        terminalreporter.write_line(
            f"property-based cases tried: {total} across {len(PROPERTY_CASES)} entry points "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(PROPERTY_CASES.items()))})")
