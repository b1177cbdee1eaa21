"""The names corpus (tests/corpus/names, made by scripts/make_names_corpus.py): read its manifests
and render its images. Used by tests/test_names_corpus.py and scripts/evaluate_names.py."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "names"


def read_tsv(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def expected_hits(field: str) -> set[tuple[str, str]]:
    return {tuple(item.split(":")) for item in field.split(",") if item}


def render_images(folder: Path) -> list[tuple[Path, dict]]:
    """Render every image of images.tsv into ``folder`` (skipped if already there)."""
    from PIL import Image, ImageDraw, ImageFont

    from helpers.metadata import exif, iptc_segment, save_jpeg, xmp

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, row in enumerate(read_tsv(CORPUS / "images.tsv")):
        path = folder / row["file"]
        out.append((path, row))
        if path.exists():
            continue
        where, text = row["where"], row["text"].replace("|", "\n")
        background = Image.new("RGB", (2400, 1800), (70 + 7 * i % 60, 110, 90 + 5 * i % 50))
        if where in ("certificate", "tag", "slide", "jersey"):
            size = {"certificate": 56, "tag": 64, "slide": 48, "jersey": 110}[where]
            font = ImageFont.load_default(size=size)
            lines = text.split("\n")
            width = int(max(font.getlength(line) for line in lines)) + 2 * size
            card = Image.new("RGB", (width, int(size * 1.5 * len(lines)) + 2 * size),
                             "white" if where != "jersey" else (200, 30, 40))
            draw = ImageDraw.Draw(card)
            for k, line in enumerate(lines):
                draw.text((size, size + int(k * size * 1.5)), line, font=font,
                          fill=(20, 20, 60) if where != "jersey" else "white")
            card = card.rotate(((i % 5) - 2) * 4, expand=True, fillcolor=background.getpixel((0, 0)))
            background.paste(card, ((2400 - card.width) // 2, (1800 - card.height) // 2))
            background.save(path)
        elif where.startswith("metadata:"):
            kind = where.split(":", 1)[1]
            kwargs = {
                "exif-description": {"exif_data": exif(description=text)},
                "exif-usercomment": {"exif_data": exif(user_comment=text)},
                "exif-xpkeywords": {"exif_data": exif(xp={"XPKeywords": text})},
                "iptc-caption": {"iptc": iptc_segment(caption=text)},
                "iptc-keywords": {"iptc": iptc_segment(keywords=[text])},
                "xmp-subject": {"xmp_data": xmp(subjects=["school", text])},
                "xmp-person": {"xmp_data": xmp(people=[text])},
                "mwg-region": {"xmp_data": xmp(mwg=[(text, 0.5, 0.4, 0.1, 0.15)])},
                "ms-region": {"xmp_data": xmp(microsoft=[(text, 0.4, 0.3, 0.1, 0.15)])},
            }[kind]
            save_jpeg(background, path, **kwargs)
        else:  # the name is in the file name only
            background.save(path, quality=90)
    return out
