"""Review items built from real faces, as the batch stage builds them."""

from __future__ import annotations

from conftest import R


def person_item(real_faces, item_id="p-marcus", keys=("r", "s")):
    """An item as the batch stage builds one: a person who resembles Marcus Ellery (R).
    ``real_faces`` is the conftest fixture of that name."""
    from consentguard.review import ReviewItem, closeup

    entries = [real_faces[k] for k in keys]
    return ReviewItem(
        id=item_id, kind="person",
        summary=f"appears in {len(entries)} photos; resembles Marcus Ellery #{R} at 0.58",
        students=[{"student_number": R, "name": "Marcus Ellery", "distance": 0.58}],
        photos=[path for path, *_ in entries],
        faces=[{"path": path, "sha256": sha, "box": list(face.box), "view": None, "width": face.width,
                "distance": 0.58} for path, sha, face, _ in entries],
        reasons=["the faces are between the block and review distances of a photo-restricted student"],
        encodings=[face.encoding for _, _, face, _ in entries],
        closeups=[closeup(rgb, face.box) for _, _, face, rgb in entries])
