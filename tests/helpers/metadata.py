"""Write photo metadata the way cameras, phones, Lightroom and Windows do (for tests and the corpus)."""

from __future__ import annotations

import io
import struct

from PIL import Image

XMP_HEAD = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            'xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
            'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" '
            'xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#" '
            'xmlns:MP="http://ns.microsoft.com/photo/1.2/" '
            'xmlns:MPRI="http://ns.microsoft.com/photo/1.2/t/RegionInfo#" '
            'xmlns:MPReg="http://ns.microsoft.com/photo/1.2/t/Region#">')
XMP_TAIL = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def xmp(title=None, description=None, subjects=(), people=(), mwg=(), microsoft=()) -> bytes:
    """An XMP packet. mwg: (name, x_centre, y_centre, w, h); microsoft: (name, left, top, w, h); normalised."""
    parts = [XMP_HEAD]
    if title:
        parts.append(f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>')
    if description:
        parts.append(f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li></rdf:Alt>'
                     "</dc:description>")
    if subjects:
        parts.append("<dc:subject><rdf:Bag>" + "".join(f"<rdf:li>{s}</rdf:li>" for s in subjects)
                     + "</rdf:Bag></dc:subject>")
    if people:
        parts.append("<Iptc4xmpExt:PersonInImage><rdf:Bag>" + "".join(f"<rdf:li>{p}</rdf:li>" for p in people)
                     + "</rdf:Bag></Iptc4xmpExt:PersonInImage>")
    if mwg:  # Lightroom style: attributes on rdf:Description items
        parts.append('<mwg-rs:Regions rdf:parseType="Resource"><mwg-rs:RegionList><rdf:Bag>')
        for name, x, y, w, h in mwg:
            parts.append(f'<rdf:li><rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face">'
                         f'<mwg-rs:Area stArea:x="{x}" stArea:y="{y}" stArea:w="{w}" stArea:h="{h}" '
                         'stArea:unit="normalized"/></rdf:Description></rdf:li>')
        parts.append("</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>")
    if microsoft:  # Windows Photo Gallery style: child elements
        parts.append("<MP:RegionInfo><rdf:Description><MPRI:Regions><rdf:Bag>")
        for name, x, y, w, h in microsoft:
            parts.append(f"<rdf:li><rdf:Description><MPReg:PersonDisplayName>{name}</MPReg:PersonDisplayName>"
                         f"<MPReg:Rectangle>{x}, {y}, {w}, {h}</MPReg:Rectangle></rdf:Description></rdf:li>")
        parts.append("</rdf:Bag></MPRI:Regions></rdf:Description></MP:RegionInfo>")
    parts.append(XMP_TAIL)
    return "".join(parts).encode("utf-8")


def exif(description=None, user_comment=None, xp=None, orientation=None) -> Image.Exif:
    """EXIF as a camera or Windows writes it. xp: {"XPComment": "...", ...} (UTF-16LE)."""
    tags = {"XPTitle": 0x9C9B, "XPComment": 0x9C9C, "XPKeywords": 0x9C9E, "XPSubject": 0x9C9F}
    e = Image.Exif()
    if description:
        e[0x010E] = description
    if orientation:
        e[0x0112] = orientation
    for name, text in (xp or {}).items():
        e[tags[name]] = text.encode("utf-16-le") + b"\x00\x00"
    if user_comment:
        e.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + user_comment.encode("utf-16-le")
    return e


def iptc_segment(caption=None, headline=None, keywords=()) -> bytes:
    """A JPEG APP13 segment (Photoshop 3.0, resource 0x0404) holding IPTC datasets in UTF-8."""
    datasets = b"\x1c\x01\x5a\x00\x03\x1b%G"  # 1:90 coded character set: UTF-8
    for (record, number), value in [((2, 120), caption), ((2, 105), headline)] + [((2, 25), k) for k in keywords]:
        if value:
            data = value.encode("utf-8")
            datasets += struct.pack(">BBBH", 0x1C, record, number, len(data)) + data
    if len(datasets) % 2:
        datasets += b"\x00"
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(datasets)) + datasets
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def save_jpeg(im: Image.Image, path, exif_data=None, xmp_data=None, iptc=None) -> None:
    """Save ``im`` as JPEG with the given metadata blocks."""
    buffer = io.BytesIO()
    kwargs = {"quality": 92}
    if exif_data is not None:
        kwargs["exif"] = exif_data
    if xmp_data is not None:
        kwargs["xmp"] = xmp_data
    im.convert("RGB").save(buffer, "JPEG", **kwargs)
    data = buffer.getvalue()
    if iptc:
        data = data[:2] + iptc + data[2:]  # right after SOI
    with open(path, "wb") as f:
        f.write(data)


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An EXIF block (for ``save(exif=...)``) whose IFD1 holds a JPEG thumbnail, as cameras write it."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHLHH", 0x0112, 3, 1, 1, 0) + struct.pack("<L", 26)
    thumb_at = 26 + 2 + 3 * 12 + 4
    ifd1 = struct.pack("<H", 3) + struct.pack("<HHLHH", 0x0103, 3, 1, 6, 0) \
        + struct.pack("<HHLL", 0x0201, 4, 1, thumb_at) + struct.pack("<HHLL", 0x0202, 4, 1, len(thumbnail)) \
        + struct.pack("<L", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<L", 8) + ifd0 + ifd1 + thumbnail
