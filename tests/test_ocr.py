"""Text inside photos: real OCR (RapidOCR, offline) on rendered certificates and name tags."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from consentguard import Checker, Policy, open_db
from consentguard.inspect.ocr import box_of, joined, read_text
from consentguard.match.index import Student
from consentguard.match.names import find_names


def card(text: str, size: int, angle: float = 0) -> Image.Image:
    font = ImageFont.load_default(size=size)
    lines = text.split("\n")
    width = int(max(font.getlength(line) for line in lines)) + size
    im = Image.new("RGB", (width, int(size * 1.6 * len(lines) + size)), "white")
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((size // 2, size // 2 + int(i * size * 1.6)), line, fill=(20, 20, 60), font=font)
    return im.rotate(angle, expand=True, fillcolor=(150, 160, 140)) if angle else im


STUDENTS = [Student("1", "Maria", "Gonzalez", False, True), Student("2", "Priya", "Natarajan", False, True),
            Student("3", "Chloé", "Fernández", False, True), Student("4", "Ethan", "O'Connell", False, True),
            Student("5", "Lena", "Smith-Jones", False, True)]
CARDS = [  # (student, text, font px, angle, where)
    ("1", "Awarded to\nMaria Gonzalez", 36, 0, (200, 200)),
    ("2", "PRIYA NATARAJAN", 48, 10, (2200, 300)),
    ("3", "Chloe Fernandez", 80, -8, (300, 1500)),
    ("4", "Ethan O'Connell", 120, 0, (1800, 1700)),
    ("5", "Lena Smith-Jones", 60, 15, (600, 2400)),
]


@pytest.fixture(scope="module")
def scene_12mp():
    scene = Image.new("RGB", (4000, 3000), (96, 120, 104))
    boxes = {}
    for number, text, size, angle, (x, y) in CARDS:
        im = card(text, size, angle)
        scene.paste(im, (x, y))
        boxes[number] = (x, y, x + im.width, y + im.height)
    return np.asarray(scene), boxes


@pytest.mark.slow
def test_names_on_cards_of_several_sizes_and_angles_are_found(scene_12mp):
    rgb, boxes = scene_12mp
    lines = read_text(rgb)
    text, spans = joined(lines)
    hits = find_names(text, STUDENTS, "ocr", compact=True)
    found = {h.student_number: (h.form, box_of(spans, h.start, h.end)) for h in hits}
    assert set(found) == set(boxes), text
    for number, (form, box) in found.items():
        assert form in ("full", "joined")
        x1, y1, x2, y2 = boxes[number]  # the hit's box lies on its card
        assert x1 - 10 <= box[0] < box[2] <= x2 + 10 and y1 - 10 <= box[1] < box[3] <= y2 + 10


@pytest.mark.slow
def test_small_text_needs_the_thorough_mode():
    scene = Image.new("RGB", (4000, 3000), (96, 120, 104))
    scene.paste(card("Priya Natarajan", 22), (1500, 1400))
    rgb = np.asarray(scene)
    assert "Natarajan" not in " ".join(line.text for line in read_text(rgb))
    assert "Natarajan" in " ".join(line.text for line in read_text(rgb, "thorough"))


@pytest.mark.faces
def test_certificate_in_a_photo_is_checked(face_roster, faces, tmp_path):
    photo = Image.open(faces.stranger).convert("RGB")
    scene = Image.new("RGB", (photo.width + 700, max(photo.height, 400)), (200, 200, 200))
    scene.paste(photo, (0, 0))
    scene.paste(card("Certificate of Merit\nPriya Natarajan", 40), (photo.width + 20, 40))
    scene.save(tmp_path / "certificate.jpg", quality=92)
    tag = Image.new("RGB", (900, 500), (200, 200, 200))
    tag.paste(card("HELLO my name is\nPriya", 50), (100, 100))
    tag.save(tmp_path / "tag.png")
    db = open_db(face_roster)
    result = Checker(db, record=False).check_path(tmp_path / "certificate.jpg")
    assert result.verdict == "block"
    (reason,) = [r for r in result.reasons if r.startswith("ocr")]
    assert reason.startswith("ocr at [") and reason.endswith(
        'names name-restricted Priya Natarajan (#900003): "Priya Natarajan" (full name: block)')
    tag_result = Checker(db, record=False).check_path(tmp_path / "tag.png")
    assert tag_result.verdict == "review" and "(first name alone" in tag_result.reasons[0]
    assert Checker(db, Policy(ocr=False), record=False).check_path(tmp_path / "certificate.jpg").verdict == "pass"


@pytest.mark.slow
def test_a_photo_with_more_text_regions_than_are_read_is_not_fully_checked():
    """More than MAX_LINES text regions (a wall of notes, a page of small print): the regions past
    the first MAX_LINES were skipped without a word, so a name among them let the photo pass."""
    from consentguard.inspect.ocr import MAX_LINES
    from consentguard.match.texts import NameSearch

    page = Image.new("RGB", (1600, 1200), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=14)
    for row in range(40):
        for column in range(30):  # 1,200 short words, each its own text region
            draw.text((10 + column * 53, 10 + row * 29), f"ab{(row * 30 + column) % 10}", fill="black", font=font)
    search = NameSearch.of([Student("2", "Priya", "Natarajan", False, True)])
    hits, error = search.picture(np.asarray(page), "notes.png", None, Policy())
    assert hits == []
    assert error is not None and error.startswith("notes.png: text in the photo was read only in part (")
    assert f"past the first {MAX_LINES} were not read): names in them cannot be checked" in error
