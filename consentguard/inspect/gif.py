"""GIF blocks walked one by one: where the file ends (its trailer) and the text of every comment
extension. Used by the decoder (data hidden after the trailer) and by metadata (names in
comments), so neither of them imports the other for it."""

from __future__ import annotations


def gif_blocks(data: bytes) -> tuple[int | None, list[bytes]]:
    """Offset just past a GIF's trailer (None if it has none) and the text of every comment
    extension, in any frame (Pillow shows one frame's at a time)."""
    if data[:3] != b"GIF" or len(data) < 13:
        return None, []
    pos, comments = 13 + _colour_table(data[10]), []
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            return pos + 1, comments
        if block == 0x21 and pos + 1 < len(data):  # extension: label, then sub-blocks
            comment = data[pos + 1] == 0xFE
            body, pos = _sub_blocks(data, pos + 2, keep=comment)
            if comment:
                comments.append(body)
        elif block == 0x2C and pos + 10 < len(data):  # image: descriptor, colour table, code size, data
            pos += 10 + _colour_table(data[pos + 9]) + 1
            _, pos = _sub_blocks(data, pos, keep=False)
        else:
            return None, comments
    return None, comments


def _colour_table(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _sub_blocks(data: bytes, pos: int, keep: bool) -> tuple[bytes, int]:
    """The joined data sub-blocks at ``pos`` (if ``keep``) and the offset after their terminator."""
    parts = []
    while pos < len(data):
        size = data[pos]
        if size == 0:
            return b"".join(parts), pos + 1
        if keep:
            parts.append(data[pos + 1:pos + 1 + size])
        pos += 1 + size
    return b"".join(parts), len(data)
