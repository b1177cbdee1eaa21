"""Batch scan, folder walk: every entry is checked, or listed as not checked with a reason."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from consentguard.errors import ImageError
from consentguard.inspect.image import read_file
from consentguard.runners.scan import find_photos


def photo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), "teal").save(path, "JPEG")
    return path


def reasons(found, root):
    return {p.relative_to(root).as_posix(): reason for p, reason in found.not_checked}


@pytest.mark.slow
def test_fifo_is_skipped_never_read(tmp_path):
    """A FIFO named like a photo would block the scan forever on open(): it is listed, never read.
    Run in a subprocess with a timeout so a regression cannot hang the test run."""
    root = tmp_path / "event"
    photo(root / "a.jpg")
    os.mkfifo(root / "stuck.jpg")
    os.mkfifo(root / "no_extension")
    os.symlink(root / "stuck.jpg", root / "link_to_fifo.jpg")
    code = ("import sys; from consentguard.runners.scan import find_photos; f = find_photos(sys.argv[1]); "
            "print([p.name for p in f.photos]); print(sorted((p.name, r) for p, r in f.not_checked))")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    photos, skipped = out.stdout.splitlines()
    assert photos == "['a.jpg']"
    assert skipped == str(sorted([
        ("link_to_fifo.jpg", "a link to a FIFO (named pipe): not read"),
        ("no_extension", "a FIFO (named pipe): not read"),
        ("stuck.jpg", "a FIFO (named pipe): not read")]))


@pytest.mark.slow
def test_read_file_refuses_a_fifo_without_blocking(tmp_path):
    """Defence in depth: a file swapped for a FIFO after the walk is refused, not waited on."""
    os.mkfifo(tmp_path / "x.jpg")
    code = ("import sys; from consentguard.inspect.image import read_file\n"
            "try: read_file(sys.argv[1])\nexcept Exception as e: print(type(e).__name__, e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.jpg")], capture_output=True, text=True,
                         timeout=20)
    assert out.stdout.strip() == (f"ImageError {tmp_path / 'x.jpg'}: not a regular file (a FIFO, device or socket): "
                                  "not read")


def test_read_file_reads_a_regular_file(tmp_path):
    path = photo(tmp_path / "a.jpg")
    assert read_file(path) == path.read_bytes()
    with pytest.raises(ImageError, match="cannot read file"):
        read_file(tmp_path / "missing.jpg")


def test_links_hidden_entries_and_devices(tmp_path):
    root = tmp_path / "event"
    photo(root / "day1" / "a.jpg")
    photo(root / ".IMG_0001.jpg")  # a staff member's hidden photo: still a photo someone can publish
    (root / "._IMG_0002.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS resource fork: not an image
    photo(root / ".thumbs" / "t.jpg")
    (root / ".IMG_0003.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  ")  # a hidden clip: checked (a video)
    (root / "._IMG_0003.MOV").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # its resource fork: not a video
    outside = photo(tmp_path / "elsewhere" / "b.jpg")
    os.symlink(outside.parent, root / "linked_folder")
    os.symlink(outside, root / "linked.jpg")  # a link to a photo: checked under its own path
    os.symlink(tmp_path / "gone.jpg", root / "broken.jpg")
    os.symlink("/dev/null", root / "null.jpg")
    found = find_photos(root)
    assert [p.relative_to(root).as_posix() for p in found.photos] == [".IMG_0001.jpg", ".IMG_0003.MOV", "linked.jpg",
                                                                     "day1/a.jpg"]
    assert [p.name for p in found.others] == ["._IMG_0002.jpg", "._IMG_0003.MOV"]
    assert reasons(found, root) == {
        ".thumbs": "a hidden folder: not entered",
        "broken.jpg": "a link to a file that does not exist: not read",
        "linked_folder": "a link to a folder: not followed (it may lead outside the scanned folder, or loop)",
        "null.jpg": "a link to a character device: not read",
    }


@pytest.mark.slow
def test_unreadable_folder_is_listed(tmp_path):
    """Root reads any folder: as root, the walk runs without root's capabilities (setpriv)."""
    root = tmp_path / "event"
    photo(root / "ok" / "a.jpg")
    photo(root / "locked" / "b.jpg")
    os.chmod(root / "locked", 0o000)
    photo(root / "ok" / "IMG_0003")  # no extension: only its content says it is a photo
    os.chmod(root / "ok" / "IMG_0003", 0o000)
    photo(root / "ok" / "c.jpg")  # a photo by its name: checked, and its check says it cannot be read
    os.chmod(root / "ok" / "c.jpg", 0o000)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: every folder is readable")
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]
    code = ("import sys; from consentguard.runners.scan import find_photos; f = find_photos(sys.argv[1]); "
            "print([p.name for p in f.photos]); print([(p.name, r) for p, r in f.not_checked])")
    try:
        out = subprocess.run(prefix + [sys.executable, "-c", code, str(root)], capture_output=True, text=True,
                             timeout=20)
    finally:
        os.chmod(root / "locked", 0o755)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "['a.jpg', 'c.jpg']", "[('locked', 'a folder that cannot be read (Permission denied): not entered'), "
        "('IMG_0003', 'a file that cannot be read (Permission denied): not checked')]"]


def test_files_that_can_show_photos_are_not_checked_not_harmless(tmp_path):
    """An SVG embedding a student's photo, a PDF, a video of a kind not checked (MKV): listed as not
    checked (the scan is then incomplete and cannot exit 0), never among the harmless other files.
    A video of a kind checked (MP4, MOV, M4V, WebM, AVI) is checked like a photo (issue #14)."""
    from consentguard.runners.scan import find_photos

    (tmp_path / "poster.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/jpeg;base64,AA"/></svg>')
    (tmp_path / "drawing").write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (tmp_path / "flyer.pdf").write_bytes(b"%PDF-1.7\n")
    (tmp_path / "clip.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (tmp_path / "IMG_0042.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  ")
    (tmp_path / "notes.txt").write_text("plain text")
    found = find_photos(tmp_path)
    assert [p.name for p in found.others] == ["notes.txt"]
    assert [p.name for p in found.photos] == ["IMG_0042.MOV", "clip.mp4"]
    skipped = {p.name: why for p, why in found.not_checked}
    assert set(skipped) == {"poster.svg", "drawing", "flyer.pdf", "clip.mkv"}
    assert skipped["drawing"].startswith("an SVG drawing can show photos of students")


def test_a_video_whose_name_hides_its_kind_is_not_a_harmless_other_file(tmp_path):
    """Red team (issue #14): a clip with no extension (as copied off a phone or out of a chat), or
    one renamed ``.tmp``, was listed among the "other files (not images)" and the scan could exit
    0. By its content (MP4/MOV 'ftyp', Matroska/WebM, AVI) it is a video: listed as not checked."""
    (tmp_path / "IMG_0042").write_bytes(b"\x00\x00\x00\x14ftypqt  " + bytes(64))
    (tmp_path / "clip.tmp").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    (tmp_path / "game").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(64))
    (tmp_path / "old.bin").write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(64))
    (tmp_path / "notes.txt").write_text("plain text")
    found = find_photos(tmp_path)
    assert [p.name for p in found.others] == ["notes.txt"]
    skipped = {p.name: why for p, why in found.not_checked}
    assert set(skipped) == {"IMG_0042", "clip.tmp", "game", "old.bin"}
    assert all(why.startswith("a video (by its content) can show") for why in skipped.values()), skipped


def test_a_clips_cached_result_depends_on_the_video_reader(tmp_path):
    """Red team (issue #14): a clip passed from the scan cache by the reader that looked at only its
    first video stream would pass again after the fix; a clip's cache version names the reader."""
    from consentguard.inspect.video import VIDEO_VERSION
    from consentguard.runners.scan import _cache_version

    assert _cache_version("v", tmp_path, tmp_path / "a" / "clip.MP4").startswith(f"v|a/clip.MP4|{VIDEO_VERSION}")
    assert _cache_version("v", tmp_path, tmp_path / "a" / "IMG_1.jpg") == "v|a/IMG_1.jpg"


def test_a_clips_cached_result_depends_on_the_trackers_numbers(tmp_path, monkeypatch):
    """Red team (issue #14): which faces of a clip are encoded and judged is the tracker's numbers
    (SAME_LOOK, SWAP_LOOK, JUDGED, ...); a clip passed by a tracker tuned otherwise must be checked
    again, not passed from the cache because nobody remembered to change VIDEO_VERSION."""
    from consentguard.inspect import track
    from consentguard.runners.scan import _cache_version

    clip = tmp_path / "clip.mp4"
    before = _cache_version("v", tmp_path, clip)
    for name, value in (("SAME_LOOK", 0.25), ("SWAP_LOOK", 0.4), ("JUDGED", 2), ("LINK_IOU", 0.2),
                        ("CUT_DIFF", 30.0), ("LARGER", 1.5)):
        with monkeypatch.context() as m:
            m.setattr(track, name, value)
            assert _cache_version("v", tmp_path, clip) != before, name
    assert _cache_version("v", tmp_path, clip) == before
