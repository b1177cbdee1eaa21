"""Uploads the routes share: reading the one photo of a request (size-limited), and keeping an upload
in a private folder (a blocked photo as a record, ``serve --keep-blocked``; a posted one for
re-checks, ``serve --keep-posted``)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import abort, request

from consentguard.web.security import MAX_UPLOAD_BYTES


def one_photo() -> tuple[bytes, str]:
    files = request.files.getlist("photo")
    if len(files) != 1:
        abort(400, "send exactly one photo per request (field 'photo')")
    upload = files[0]
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        abort(413)
    return data, Path(upload.filename or "photo").name[:200]


def kept_path(folder: Path, sha256: str, name: str) -> Path:
    """Where an upload is kept: a private folder (0700, also when it existed wider: it holds photos of
    children), named by content hash and file name."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder / f"{sha256[:16]}_{Path(name).name}"


def keep_upload(folder: Path, sha256: str, name: str, data: bytes) -> Path:
    """Keep an upload (a blocked one as a record, a posted one for re-checks): 0600; its path."""
    path = kept_path(folder, sha256, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
