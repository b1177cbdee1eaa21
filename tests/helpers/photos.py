"""Real face photos turned into the scenes the tests need (a face shrunk into a wide shot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def distant(photo_path, width, tmp_path, name, canvas=(900, 600)):
    """A scene with the face of ``photo_path`` scaled to ``width`` px."""
    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image

    photo = ImageOps.exif_transpose(Image.open(photo_path)).convert("RGB")
    face = max(detect_faces(load_image(photo_path).rgb), key=lambda f: f.width)
    scale = width / face.width
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    scene = Image.new("RGB", canvas, (104, 142, 88))
    scene.paste(photo, (canvas[0] // 2 - photo.width // 2, canvas[1] // 3))
    scene.save(tmp_path / name, quality=92)
    return tmp_path / name


def face_of(path: Path):
    """(rgb, the largest face found, with its encoding) of a real photo."""
    from consentguard.inspect.faces import find_and_encode

    rgb = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    face = max(find_and_encode(rgb), key=lambda f: f.width)
    assert face.encoding is not None
    return rgb, face
