"""Reading a job's form as it streams in: text fields kept in memory, uploads written straight
into the job's folder under names the server chooses.

Starlette's own form parser spools large uploads to the system temp folder and only limits
their size after the fact; this one refuses a file the moment it passes the limit and never
writes outside the data folder. The client's file name is checked (no paths) and only its
suffix is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from minisora.server.config import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Limits

UPLOAD_SLOTS = {"image": IMAGE_SUFFIXES, "video": VIDEO_SUFFIXES, "end_video": VIDEO_SUFFIXES}
MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 16


class FormError(Exception):
    """A request the service refuses; `status` is the HTTP status, the message says what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Form:
    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def check_file_name(slot: str, name: str, allowed: tuple[str, ...]) -> str:
    """The lower-case suffix of a client's file name; FormError if the name holds a path."""
    if not name or "\x00" in name or "/" in name or "\\" in name or name in (".", "..") or ":" in name:
        raise FormError(400, f"upload {slot!r}: file name {name!r} must be a plain name such as "
                             f"clip.mp4, without folders, '..' or drive letters")
    if PurePosixPath(name).name != name or PureWindowsPath(name).name != name:
        raise FormError(400, f"upload {slot!r}: file name {name!r} must not contain a path")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in allowed:
        raise FormError(415, f"upload {slot!r}: {name!r} is not an accepted type; use one of {', '.join(allowed)}")
    return suffix


async def read_form(request: Request, folder: Path, limits: Limits,
                    slots: dict[str, tuple[str, ...]] = UPLOAD_SLOTS, allow_json: bool = True) -> Form:
    """Parse a multipart/form-data (or JSON) request; uploads in `slots` land in `folder`."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/json" and allow_json:
        return await _read_json(request)
    if content_type == b"application/x-www-form-urlencoded" and allow_json:
        return await _read_urlencoded(request)
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        also = " or as application/json (fields only)" if allow_json else ""
        raise FormError(415, f"send multipart/form-data (fields and uploads){also}")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > 3 * limits.max_upload_bytes + 2**20:
        raise FormError(413, f"the request is too large: each upload may be at most "
                             f"{limits.max_upload_bytes // 2**20} MiB")
    reader = _MultipartReader(folder, limits, slots)
    parser = MultipartParser(options[b"boundary"], reader.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormError:
        raise
    except Exception as exc:  # the parser's own errors: a malformed body
        raise FormError(400, f"the multipart body could not be read ({exc}); send multipart/form-data") from None
    finally:
        reader.close()
    return reader.form


async def _read_json(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FIELD_BYTES * 4:
        raise FormError(413, "the JSON body is too large: send only the job's fields")
    try:
        data = json.loads(body)
    except ValueError:
        raise FormError(400, "the body is not valid JSON; send an object such as "
                             '{"mode": "text-to-video", "prompt": "two red balls bounce"}') from None
    if not isinstance(data, dict):
        raise FormError(400, "the JSON body must be an object of fields, such as {\"prompt\": \"...\"}")
    return Form(fields=data)


async def _read_urlencoded(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FIELD_BYTES * 4:
        raise FormError(413, "the form is too large: send only the job's fields")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "the form body is not valid application/x-www-form-urlencoded UTF-8") from None
    form = Form()
    for name, value in pairs:
        if name in form.fields:
            raise FormError(400, f"form field {name!r} appears twice; send it once")
        form.fields[name] = value
    return form


class _MultipartReader:
    """Callbacks for python-multipart's streaming parser: one part at a time."""

    def __init__(self, folder: Path, limits: Limits, slots: dict[str, tuple[str, ...]]) -> None:
        self.folder = folder
        self.slots = slots
        self.limits = limits
        self.form = Form()
        self.parts = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._size = 0

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise FormError(400, f"too many form parts: a job has at most {MAX_PARTS}")
        self._headers, self._buffer, self._size = {}, bytearray(), 0

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if not self._name:
            raise FormError(400, "every form part needs a name (Content-Disposition: form-data; name=...)")
        if self._name in self.form.fields or self._name in self.form.files:
            raise FormError(400, f"form field {self._name!r} appears twice; send it once")
        if b"filename" in options:
            self._open_file(options[b"filename"].decode("utf-8", "replace"))

    def _open_file(self, file_name: str) -> None:
        if self._name not in self.slots:
            raise FormError(400, f"upload field {self._name!r} is unknown; uploads are "
                                 f"{', '.join(repr(slot) for slot in self.slots)}")
        suffix = check_file_name(self._name, file_name, self.slots[self._name])
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._name}{suffix}"
        self._file = open(path, "wb")  # noqa: SIM115 - closed in _part_end or close()
        self.form.files[self._name] = path

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._file is not None:
            if self._size > self.limits.max_upload_bytes:
                raise FormError(413, f"upload {self._name!r} is larger than the limit of "
                                     f"{self.limits.max_upload_bytes // 2**20} MiB; send a shorter or smaller file")
            self._file.write(data[start:end])
        else:
            if self._size > MAX_FIELD_BYTES:
                raise FormError(413, f"form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes")
            self._buffer += data[start:end]

    def _part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            return
        try:
            self.form.fields[self._name] = self._buffer.decode("utf-8")
        except UnicodeDecodeError:
            raise FormError(400, f"form field {self._name!r} is not valid UTF-8 text") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
