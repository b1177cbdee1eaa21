"""Image inspection, step 3: the text a photo carries in its metadata.

Lightroom, digiKam, Picasa, Windows and phones write captions, keywords and the
names of the people in a photo into it; a restricted student's name there is
published with the photo. Read with Pillow (EXIF, IPTC, the XMP packet) and
defusedxml (XMP is XML from an untrusted file):

* EXIF (and TIFF tags): ImageDescription, Artist, Copyright, DocumentName, PageName,
  UserComment, XPTitle, XPComment, XPKeywords, XPSubject
* comments: JPEG COM segments, PNG tEXt/zTXt/iTXt chunks (ImageMagick's hex "Raw
  profile" chunks decoded), the GIF comment extension
* IPTC: Object Name, Headline, Caption/Abstract, Keywords
* XMP: dc:title, dc:description, dc:subject, photoshop:Headline, lr:hierarchicalSubject,
  digiKam:TagsList, MicrosoftPhoto:LastKeywordXMP, Iptc4xmpExt:PersonInImage,
  and named regions: MWG (Lightroom, digiKam, Picasa) and Microsoft Photo.

``PersonInImage`` and region names say who is *in* the photo: they are
identity fields (:attr:`TextField.identity`), matched against photo-restricted
students too. Region boxes are returned in pixels of the upright photo.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
}

EXIF_IFD0 = {0x010E: "ImageDescription", 0x013B: "Artist", 0x8298: "Copyright", 0x010D: "DocumentName",
             0x011D: "PageName", 0x9C9B: "XPTitle", 0x9C9C: "XPComment", 0x9C9E: "XPKeywords",
             0x9C9F: "XPSubject"}
#: PNG text keys that hold no names (program names, times) or are read elsewhere (XMP): skipped.
PNG_SKIP = {"software", "creation time", "date:create", "date:modify", "date:timestamp", "xml:com.adobe.xmp"}
EXIF_USER_COMMENT = 0x9286
IPTC = {(2, 5): "Object Name", (2, 105): "Headline", (2, 120): "Caption", (2, 25): "Keywords"}
XMP_TEXT = ["dc:title", "dc:description", "dc:subject", "photoshop:Headline", "lr:hierarchicalSubject",
            "digiKam:TagsList", "MicrosoftPhoto:LastKeywordXMP"]
XMP_IDENTITY = ["Iptc4xmpExt:PersonInImage"]


@dataclass
class TextField:
    """One piece of text from the photo's metadata."""

    field: str  # e.g. "EXIF ImageDescription", "XMP dc:subject", "XMP face region (MWG)"
    text: str
    identity: bool = False  # names a person shown in the photo
    box: tuple[int, int, int, int] | None = None  # a region's box, upright photo pixels
    seconds: tuple[float, float] | None = None  # a video's subtitle cue or chapter: from, to (s)


class MetadataError(Exception):
    """Metadata present but unreadable: its names cannot be checked."""


def read_metadata(im: Image.Image, data: bytes | None = None) -> list[TextField]:
    """Every text field of ``im`` (opened, not yet transposed; ``data``: the file's bytes, for
    what Pillow shows only frame by frame). Raises MetadataError if a metadata block is
    present but cannot be parsed."""
    fields = _exif(im) + _iptc(im) + _comments(im, data)
    xmp = _xmp_bytes(im)
    if xmp:
        fields += _xmp(xmp, im.size, _orientation(im))
    return [f for f in fields if f.text.strip()]


# -- EXIF -----------------------------------------------------------------------------

def _decode_xp(value) -> str:
    data = bytes(value) if not isinstance(value, (bytes, str)) else value
    if isinstance(data, str):
        return data
    return data.decode("utf-16-le", errors="replace").rstrip("\x00")


def _decode_user_comment(value) -> str:
    data = value if isinstance(value, bytes) else str(value).encode()
    head, body = data[:8], data[8:]
    if head.startswith(b"UNICODE"):
        big = body[:1] == b"\x00"
        return body.decode("utf-16-be" if big else "utf-16-le", errors="replace").rstrip("\x00")
    if head.startswith(b"ASCII") or head == b"\x00" * 8:
        return body.decode("utf-8", errors="replace").rstrip("\x00")
    return data.decode("utf-8", errors="replace").rstrip("\x00")


def _text(value) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").rstrip("\x00")
        except UnicodeDecodeError:
            return value.decode("cp1252", errors="replace").rstrip("\x00")
    return str(value)


def _exif(im: Image.Image) -> list[TextField]:
    exif = im.getexif()
    fields = []
    for tag, name in EXIF_IFD0.items():
        if tag in exif:
            value = exif[tag]
            text = _decode_xp(value) if tag >= 0x9C9B else _text(value)
            fields.append(TextField(f"EXIF {name}", text))
    sub = exif.get_ifd(0x8769)
    if EXIF_USER_COMMENT in sub:
        fields.append(TextField("EXIF UserComment", _decode_user_comment(sub[EXIF_USER_COMMENT])))
    return fields


# -- comments -------------------------------------------------------------------------

def _comments(im: Image.Image, data: bytes | None) -> list[TextField]:
    """Free text that editors and converters leave in the file: names in it are published too."""
    if im.format in ("JPEG", "MPO"):
        return [TextField("JPEG comment", _text(value)) for marker, value in getattr(im, "applist", [])
                if marker == "COM"]
    if im.format == "GIF":
        from consentguard.inspect.gif import gif_blocks

        comments = gif_blocks(data)[1] if data else [im.info["comment"]] if im.info.get("comment") else []
        return [TextField("GIF comment", _text(value)) for value in comments]
    if im.format == "PNG":
        return [TextField(f"PNG text {key}", _png_text(key, value)) for key, value in getattr(im, "text", {}).items()
                if key.lower() not in PNG_SKIP]
    return []


def _png_text(key: str, value) -> str:
    """A PNG text chunk's value; ImageMagick's "Raw profile type iptc/exif" chunks are hex dumps
    of binary blocks, decoded so a caption inside them can be read."""
    text = str(value)
    if not key.lower().startswith("raw profile type"):
        return text
    parts = text.split(None, 2)  # name, length, hex
    try:
        raw = bytes.fromhex("".join(parts[2].split())) if len(parts) == 3 else b""
    except ValueError:
        return text
    return "".join(c if c.isprintable() else " " for c in raw.decode("utf-8", errors="replace"))


# -- IPTC -----------------------------------------------------------------------------

def _iptc(im: Image.Image) -> list[TextField]:
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(im) or {}
    except Exception as exc:  # Pillow raises assorted errors on damaged IPTC blocks
        raise MetadataError(f"IPTC block cannot be read: {exc}") from exc
    fields = []
    for key, name in IPTC.items():
        values = info.get(key)
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            fields.append(TextField(f"IPTC {name}", _text(value)))
    return fields


# -- XMP ------------------------------------------------------------------------------

def _xmp_bytes(im: Image.Image) -> bytes | None:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp is None and hasattr(im, "tag_v2"):  # TIFF tag 700
        xmp = im.tag_v2.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, tuple):
        xmp = bytes(xmp)
    return xmp or None


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:
        return 1


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _values(node, name: str) -> list[str]:
    """A property's values: an attribute, a simple element, or the items of an rdf:Bag/Seq/Alt."""
    qname = _q(name)
    values = []
    if qname in node.attrib:
        values.append(node.attrib[qname])
    for child in node.findall(qname):
        items = child.findall(".//" + _q("rdf:li"))
        if items:
            values += [(li.text or "") for li in items]
        elif child.text:
            values.append(child.text)
    return values


def _descriptions(root) -> list:
    return root.iter(_q("rdf:Description"))


def _xmp(data: bytes, size: tuple[int, int], orientation: int) -> list[TextField]:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<rdf:RDF")
    end_tag = b"</x:xmpmeta>" if data[start:start + 10] == b"<x:xmpmeta" else b"</rdf:RDF>"
    end = data.find(end_tag, start)
    if start < 0 or end < 0:
        raise MetadataError("XMP packet cannot be read: no complete <x:xmpmeta> or <rdf:RDF> element")
    try:
        root = ElementTree.fromstring(data[start:end + len(end_tag)])
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise MetadataError(f"XMP packet cannot be read: {exc}") from exc
    fields = []
    for desc in _descriptions(root):
        for name in XMP_TEXT:
            fields += [TextField(f"XMP {name}", v) for v in _values(desc, name)]
        for name in XMP_IDENTITY:
            fields += [TextField(f"XMP {name}", v, identity=True) for v in _values(desc, name)]
    fields += _mwg_regions(root, size, orientation) + _microsoft_regions(root, size, orientation)
    return fields


def xmp_fields(data: bytes, size: tuple[int, int]) -> list[TextField]:
    """The text fields of an XMP packet found outside a photo (a video's: inspect.video), read as a
    photo's; MetadataError if it cannot be parsed."""
    return [f for f in _xmp(data, size, 1) if f.text.strip()]


def _upright_box(x: float, y: float, w: float, h: float, size: tuple[int, int],
                 orientation: int) -> tuple[int, int, int, int] | None:
    """A normalised top-left box of the stored image, in pixels of the upright image."""
    corners = [(x, y), (x + w, y + h)]
    # where a normalised point of the stored image ends up after ImageOps.exif_transpose
    transform = {
        1: lambda u, v: (u, v), 2: lambda u, v: (1 - u, v), 3: lambda u, v: (1 - u, 1 - v),
        4: lambda u, v: (u, 1 - v), 5: lambda u, v: (v, u), 6: lambda u, v: (1 - v, u),
        7: lambda u, v: (1 - v, 1 - u), 8: lambda u, v: (v, 1 - u),
    }.get(orientation, lambda u, v: (u, v))
    (u1, v1), (u2, v2) = (transform(*c) for c in corners)
    width, height = size if orientation in (1, 2, 3, 4) else (size[1], size[0])
    left, right = sorted((u1, u2))
    top, bottom = sorted((v1, v2))
    box = (round(left * width), round(top * height), round(right * width), round(bottom * height))
    return box if box[2] > box[0] and box[3] > box[1] else None


def _float(values: list[str]) -> float | None:
    try:
        return float(values[0]) if values else None
    except ValueError:
        return None


def _named_regions(root, name_property: str):
    """(region node, names) for every list item carrying ``name_property``, as an
    attribute or element of the item or of its rdf:Description."""
    for region in root.iter(_q("rdf:li")):
        desc = region.find(_q("rdf:Description"))
        node = desc if desc is not None else region
        names = _values(node, name_property)
        if names:
            yield node, names


def _mwg_regions(root, size, orientation) -> list[TextField]:
    fields = []
    for node, names in _named_regions(root, "mwg-rs:Name"):
        kind = (_values(node, "mwg-rs:Type") or ["Face"])[0]
        box = None
        area = node.find(_q("mwg-rs:Area"))
        values = [_float(_values(area, f"stArea:{k}")) for k in "xywh"] if area is not None else [None]
        if None not in values:
            x, y, w, h = values  # MWG: x, y are the centre
            box = _upright_box(x - w / 2, y - h / 2, w, h, size, orientation)
        label = "face region" if kind.lower() == "face" else f"{kind.lower()} region"
        fields += [TextField(f"XMP {label} (MWG)", n, identity=True, box=box) for n in names]
    return fields


def _microsoft_regions(root, size, orientation) -> list[TextField]:
    fields = []
    for node, names in _named_regions(root, "MPReg:PersonDisplayName"):
        box = None
        rect = _values(node, "MPReg:Rectangle")
        if rect:
            try:
                x, y, w, h = (float(v) for v in rect[0].split(","))
                box = _upright_box(x, y, w, h, size, orientation)
            except ValueError:
                box = None
        fields += [TextField("XMP face region (Microsoft Photo)", n, identity=True, box=box) for n in names]
    return fields
