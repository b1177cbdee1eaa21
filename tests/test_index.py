"""Face index: the closest portrait per student, nearest first."""

import numpy as np

from consentguard.index import FaceIndex


def test_nearest_equals_brute_force():
    rng = np.random.default_rng(7)
    encodings = rng.normal(size=(300, 128)) * 0.05
    owners = [f"{i % 97:03d}" for i in range(300)]  # several portraits per student, interleaved
    probe = rng.normal(size=128) * 0.05
    expected: dict[str, float] = {}
    for owner, d in zip(owners, np.linalg.norm(encodings - probe, axis=1)):
        expected[owner] = min(expected.get(owner, np.inf), d)
    got = FaceIndex(encodings, owners, {}).nearest(probe)
    assert [n for n, _ in got] == sorted(expected, key=expected.get)
    assert np.allclose([d for _, d in got], sorted(expected.values()))


def test_empty_index():
    assert FaceIndex(np.empty((0, 128)), [], {}).nearest(np.zeros(128)) == []
