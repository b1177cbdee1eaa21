"""Metadata: write with Pillow (as cameras, Windows and Lightroom do), read back every text field."""

import shutil

import pytest
from PIL import Image

from consentguard.inspect.metadata import MetadataError, read_metadata

from helpers.metadata import exif, iptc_segment, save_jpeg, xmp


def fields(path):
    with Image.open(path) as im:
        return [(f.field, f.text, f.identity, f.box) for f in read_metadata(im)]


@pytest.fixture
def blank():
    return Image.new("RGB", (400, 300), (90, 120, 150))


def test_exif_fields_round_trip(blank, tmp_path):
    save_jpeg(blank, tmp_path / "e.jpg", exif_data=exif(
        description="Science fair: Maria Gonzalez", user_comment="Priya Natarajan ✓",
        xp={"XPTitle": "Awards", "XPComment": "Chloé Fernández", "XPKeywords": "choir;Ethan O'Connell",
            "XPSubject": "Spring"}))
    assert fields(tmp_path / "e.jpg") == [
        ("EXIF ImageDescription", "Science fair: Maria Gonzalez", False, None),
        ("EXIF XPTitle", "Awards", False, None),
        ("EXIF XPComment", "Chloé Fernández", False, None),
        ("EXIF XPKeywords", "choir;Ethan O'Connell", False, None),
        ("EXIF XPSubject", "Spring", False, None),
        ("EXIF UserComment", "Priya Natarajan ✓", False, None),
    ]


def test_iptc_fields_round_trip(blank, tmp_path):
    save_jpeg(blank, tmp_path / "i.jpg", iptc=iptc_segment(
        caption="Chloé Fernández at the concert", headline="Concert", keywords=["music", "Maria Gonzalez"]))
    assert fields(tmp_path / "i.jpg") == [
        ("IPTC Headline", "Concert", False, None),
        ("IPTC Caption", "Chloé Fernández at the concert", False, None),
        ("IPTC Keywords", "music", False, None),
        ("IPTC Keywords", "Maria Gonzalez", False, None),
    ]


def test_xmp_fields_and_regions_round_trip(blank, tmp_path):
    save_jpeg(blank, tmp_path / "x.jpg", xmp_data=xmp(
        title="Field day", description="Relay team", subjects=["sports", "Maria Gonzalez"],
        people=["Priya Natarajan"], mwg=[("Marcus Ellery", 0.5, 0.5, 0.2, 0.3)],
        microsoft=[("Jordan Whitfield", 0.1, 0.1, 0.25, 0.2)]))
    assert fields(tmp_path / "x.jpg") == [
        ("XMP dc:title", "Field day", False, None),
        ("XMP dc:description", "Relay team", False, None),
        ("XMP dc:subject", "sports", False, None),
        ("XMP dc:subject", "Maria Gonzalez", False, None),
        ("XMP Iptc4xmpExt:PersonInImage", "Priya Natarajan", True, None),
        ("XMP face region (MWG)", "Marcus Ellery", True, (160, 105, 240, 195)),
        ("XMP face region (Microsoft Photo)", "Jordan Whitfield", True, (40, 30, 140, 90)),
    ]


def test_xmp_in_png(blank, tmp_path):
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp(people=["Priya Natarajan"]).decode())
    blank.save(tmp_path / "p.png", pnginfo=info)
    assert fields(tmp_path / "p.png") == [("XMP Iptc4xmpExt:PersonInImage", "Priya Natarajan", True, None)]


@pytest.mark.parametrize("orientation,box", [
    (1, (160, 45, 240, 135)),   # stored 400x300: region centre (0.5, 0.3)
    (6, (165, 160, 255, 240)),  # rotated 90° clockwise to display: upright 300x400
    (3, (160, 165, 240, 255)),
    (8, (45, 160, 135, 240)),
])
def test_region_boxes_follow_exif_orientation(blank, tmp_path, orientation, box):
    save_jpeg(blank, tmp_path / "o.jpg", exif_data=exif(orientation=orientation),
              xmp_data=xmp(mwg=[("Marcus Ellery", 0.5, 0.3, 0.2, 0.3)]))
    assert fields(tmp_path / "o.jpg")[0][3] == box


def test_malformed_xmp_is_an_error_not_silence(blank, tmp_path):
    save_jpeg(blank, tmp_path / "bad.jpg", xmp_data=xmp(people=["Priya"]).replace(b"</rdf:Bag>", b"", 1))
    with Image.open(tmp_path / "bad.jpg") as im, pytest.raises(MetadataError, match="XMP packet cannot be read"):
        read_metadata(im)


def test_entity_expansion_is_refused(blank, tmp_path):
    bomb = (b'<?xpacket begin=""?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            + xmp(description="&b;"))
    save_jpeg(blank, tmp_path / "bomb.jpg", xmp_data=bomb)
    with Image.open(tmp_path / "bomb.jpg") as im:
        # the packet is cut at <x:xmpmeta>, so the DTD is never seen: the entity is undefined, not expanded
        with pytest.raises(MetadataError):
            read_metadata(im)


def test_no_metadata(blank, tmp_path):
    blank.save(tmp_path / "plain.jpg")
    assert fields(tmp_path / "plain.jpg") == []


@pytest.mark.faces
def test_named_face_region_and_iptc_caption_decide(face_roster, faces, tmp_path):
    """A face region named after a photo-restricted student blocks with no face match;
    an IPTC caption naming a name-restricted student blocks; unreadable XMP goes to review."""
    from consentguard import Checker, open_db
    photo = Image.open(faces.stranger)
    save_jpeg(photo, tmp_path / "region.jpg", xmp_data=xmp(mwg=[("Marcus Ellery", 0.5, 0.5, 0.4, 0.4)]))
    save_jpeg(photo, tmp_path / "iptc.jpg", iptc=iptc_segment(caption="Priya Natarajan receives her award"))
    save_jpeg(photo, tmp_path / "broken.jpg", xmp_data=b"<x:xmpmeta><rdf:RDF><oops></x:xmpmeta>")
    shutil.copy(faces.stranger, tmp_path / "clean.jpg")
    checker = Checker(open_db(face_roster), record=False)
    region = checker.check_path(tmp_path / "region.jpg")
    assert region.verdict == "block"
    w, h = photo.size
    box = [round(0.3 * w), round(0.3 * h), round(0.7 * w), round(0.7 * h)]
    assert region.reasons == [f'metadata:XMP face region (MWG) at [{box[0]}, {box[1]}, {box[2]}, {box[3]}] says the '
                              'photo shows photo-restricted Marcus Ellery (#900001): "Marcus Ellery" (full name: block)']
    iptc = checker.check_path(tmp_path / "iptc.jpg")
    assert iptc.verdict == "block" and iptc.reasons == [
        'metadata:IPTC Caption names name-restricted Priya Natarajan (#900003): "Priya Natarajan" (full name: block)']
    broken = checker.check_path(tmp_path / "broken.jpg")
    assert broken.verdict == "review" and "XMP packet cannot be read" in broken.reasons[0]
    assert checker.check_path(tmp_path / "clean.jpg").verdict == "pass"


def test_jpeg_comments_are_read(blank, tmp_path):
    """JPEG COM segments (Pillow writes one; a second one added by hand, as exiftool can)."""
    blank.save(tmp_path / "com.jpg", comment="Priya Natarajan, sports day")
    data = (tmp_path / "com.jpg").read_bytes()
    second = b"\xff\xfe" + (len(b"and Marcus") + 2).to_bytes(2, "big") + b"and Marcus"
    (tmp_path / "two.jpg").write_bytes(data[:2] + second + data[2:])
    assert fields(tmp_path / "com.jpg") == [("JPEG comment", "Priya Natarajan, sports day", False, None)]
    assert [f[1] for f in fields(tmp_path / "two.jpg")] == ["and Marcus", "Priya Natarajan, sports day"]


def test_png_text_chunks_are_read_and_technical_ones_skipped(blank, tmp_path):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Priya Natarajan")  # tEXt
    info.add_text("Description", "zipped Marcus", zip=True)  # zTXt
    info.add_itxt("Title", "Fête de Priya", lang="fr", zip=True)  # iTXt
    info.add_text("Software", "GIMP 2.10")
    info.add_text("Raw profile type iptc", "\niptc\n      18\n" + b"\x1c\x02x\x00\x0fPriya Natarajan".hex())
    blank.save(tmp_path / "text.png", pnginfo=info)
    assert fields(tmp_path / "text.png") == [
        ("PNG text Comment", "Priya Natarajan", False, None),
        ("PNG text Description", "zipped Marcus", False, None),
        ("PNG text Title", "Fête de Priya", False, None),
        ("PNG text Raw profile type iptc", "  x  Priya Natarajan", False, None),
    ]


def test_gif_comment_and_tiff_text_tags_are_read(blank, tmp_path):
    blank.save(tmp_path / "c.gif", comment="Priya Natarajan")
    assert fields(tmp_path / "c.gif") == [("GIF comment", "Priya Natarajan", False, None)]
    blank.save(tmp_path / "t.tif", tiffinfo={270: "Priya at the fair", 315: "Marcus Ellery", 285: "page one"})
    assert fields(tmp_path / "t.tif") == [("EXIF ImageDescription", "Priya at the fair", False, None),
                                          ("EXIF Artist", "Marcus Ellery", False, None),
                                          ("EXIF PageName", "page one", False, None)]


@pytest.mark.faces
def test_name_in_a_jpeg_comment_blocks(face_roster, faces, tmp_path):
    from consentguard import Checker, open_db

    Image.open(faces.stranger).save(tmp_path / "com.jpg", comment="Priya Natarajan receives her award")
    result = Checker(open_db(face_roster), record=False).check_path(tmp_path / "com.jpg")
    assert result.verdict == "block"
    assert result.reasons == ['metadata:JPEG comment names name-restricted Priya Natarajan (#900003): '
                              '"Priya Natarajan" (full name: block)']


def gif_with_comment_in_frame_2(text: bytes) -> bytes:
    """A 3-frame GIF whose second frame carries a comment extension (as gifsicle -c writes)."""
    import io

    frames = [Image.new("RGB", (8, 8), colour).convert("P") for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], comment=b"first")
    data = out.getvalue()
    second = data.index(b"\x21\xf9\x04", data.index(b"\x21\xf9\x04") + 1)  # frame 2's control block
    return data[:second] + b"\x21\xfe" + bytes([len(text)]) + text + b"\x00" + data[second:]


def test_gif_comments_in_every_frame_are_read():
    from consentguard.inspect.image import decode_image, gif_blocks

    data = gif_with_comment_in_frame_2(b"Priya Natarajan")
    assert gif_blocks(data) == (len(data), [b"first", b"Priya Natarajan"])
    image = decode_image(data, "c.gif")
    assert [(f.field, f.text) for f in image.metadata] == [("GIF comment", "first"), ("GIF comment", "Priya Natarajan")]
    assert image.unchecked == []
    assert decode_image(data + b"more", "c.gif").unchecked == [
        "c.gif: 4 bytes after the end of the GIF are unknown data, starting 6d 6f 72 65: they may hold pictures "
        "and were not checked"]


def test_metadata_of_an_appended_picture_is_read(blank, tmp_path):
    from consentguard.inspect.image import decode_image

    blank.save(tmp_path / "a.jpg")
    blank.save(tmp_path / "b.jpg", comment="Priya Natarajan")
    image = decode_image((tmp_path / "a.jpg").read_bytes() + (tmp_path / "b.jpg").read_bytes(), "ab.jpg")
    assert image.views == []  # the same picture again: nothing more to look at
    assert [(f.field, f.text) for f in image.metadata] == [
        ("JPEG comment (the image appended after the end of the JPEG)", "Priya Natarajan")]
