"""Face stage: detection modes and their scales."""

import pytest

from consentguard.faces import MODES, detection_scale
from consentguard.policy import Policy


@pytest.mark.parametrize("size,mode,scale", [
    ((4000, 3000), "default", 1.25), ((4000, 3000), "thorough", 2.0),
    ((6000, 4000), "default", 1.25), ((1600, 1200), "default", 2.0), ((250, 250), "thorough", 2.0),
])
def test_detection_scale(size, mode, scale):
    assert detection_scale(*size, mode) == scale


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown detection mode 'fast'"):
        detection_scale(100, 100, "fast")
    with pytest.raises(ValueError, match="detect_mode must be 'default' or 'thorough'"):
        Policy(detect_mode="fast")
    assert set(MODES) == {"default", "thorough"}
