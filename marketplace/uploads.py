"""Checks on uploaded files (deliverables, dispute evidence, message
attachments, a buyer request's files): size, extension, and that the content is what the extension
claims. Shared by the forms (for field errors) and the services
(so nothing unchecked is stored, whoever calls)."""

from __future__ import annotations

import io
import mimetypes
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketplace.errors import InvalidInput

# Extensions whose content has a signature that ``filetype`` recognises.
_SIGNATURES = {
    "pdf": {"pdf"},
    "png": {"png"},
    "jpg": {"jpg"},
    "jpeg": {"jpg"},
    "gif": {"gif"},
    "webp": {"webp"},
    "zip": {"zip"},
    # Office files are zip archives.
    "docx": {"zip", "docx"},
    "xlsx": {"zip", "xlsx"},
}
_TEXT = {"txt", "md", "csv"}


def safe_filename(raw: str) -> str:
    """The last path component only, without control characters: what the
    user sees and downloads, never a path on our disk."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > 200:
        # Cut the stem, keep the extension: a long name is still the type it says.
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 10:
            name = stem[: 200 - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:200]
    return name or "file"


def upload_size_words() -> str:
    """The size limit of one file (``DELIVERABLE_MAX_FILE_SIZE``), as the checks apply it: "25 MB"."""
    size = settings.DELIVERABLE_MAX_FILE_SIZE
    return f"{size // (1024 * 1024)} MB" if size % (1024 * 1024) == 0 else str(filesizeformat(size))


def upload_rules_words(max_files: int) -> str:
    """What a file field accepts, in its help: how many files, how large, which types, read from the
    settings ``validate_deliverable_file`` checks against (never a second list to keep in step)."""
    allowed = ", ".join(e.lower() for e in settings.DELIVERABLE_ALLOWED_EXTENSIONS)
    if max_files == 1:
        return _("One file, {size} at most. Accepted: {types}.").format(size=upload_size_words(), types=allowed)
    return ngettext(
        "Up to {count} file, {size} each. Accepted: {types}.",
        "Up to {count} files, {size} each. Accepted: {types}.",
        max_files,
    ).format(count=max_files, size=upload_size_words(), types=allowed)


def validate_deliverable_file(upload: UploadedFile) -> tuple[str, str]:
    """Return ``(safe name, content type)`` or raise ``InvalidInput`` on ``files``."""
    name = safe_filename(upload.name or "")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = [e.lower() for e in settings.DELIVERABLE_ALLOWED_EXTENSIONS]
    if extension not in allowed:
        raise InvalidInput(
            _("“{name}” is not an accepted file type. Accepted: {types}.").format(name=name, types=", ".join(allowed)),
            field="files",
        )
    size = upload.size or 0
    if size > settings.DELIVERABLE_MAX_FILE_SIZE:
        raise InvalidInput(
            _("“{name}” is {size}; the limit is {limit}.").format(
                name=name, size=filesizeformat(size), limit=filesizeformat(settings.DELIVERABLE_MAX_FILE_SIZE)
            ),
            field="files",
        )
    if size == 0:
        raise InvalidInput(_("“{name}” is empty.").format(name=name), field="files")
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    if extension in _SIGNATURES:
        kind = filetype.guess(head)
        if kind is None or kind.extension not in _SIGNATURES[extension]:
            raise InvalidInput(
                _("“{name}” does not contain what its .{extension} extension says.").format(
                    name=name, extension=extension
                ),
                field="files",
            )
    elif extension in _TEXT:
        if b"\x00" in head:
            raise InvalidInput(_("“{name}” is not a text file.").format(name=name), field="files")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the 8 KiB boundary is fine.
            if exc.start < len(head) - 4:
                raise InvalidInput(_("“{name}” is not UTF-8 text.").format(name=name), field="files") from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, content_type


def upload_request_limit() -> int:
    """The largest request body a form with files may send: every file at its
    limit, plus room for the form's fields."""
    return settings.DELIVERABLE_MAX_FILE_SIZE * settings.DELIVERABLE_MAX_FILES + 1024 * 1024


class UploadSizeMiddleware:
    """Refuse an upload larger than any form accepts before reading it.

    A 300 MB upload used to be read whole (to a temporary file) before the
    25 MB rule refused it. The declared ``Content-Length`` is checked first:
    over ``upload_request_limit`` the request gets a 413 page saying the limit,
    and its body is never read. (The proxy in front should refuse it even
    earlier: nginx ``client_max_body_size``, README.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method in ("POST", "PUT", "PATCH") and length > upload_request_limit():
            context = {
                "limit": filesizeformat(settings.DELIVERABLE_MAX_FILE_SIZE),
                "files": settings.DELIVERABLE_MAX_FILES,
                "size": filesizeformat(length),
            }
            return render(request, "413.html", context, status=413)
        return self.get_response(request)


class OversizeUpload(UploadedFile):
    """A file that went past ``DELIVERABLE_MAX_FILE_SIZE`` while it streamed in:
    its name and the size it reached, none of its content (nothing past the
    limit was kept). ``validate_deliverable_file`` refuses it by its size, so
    the form shows the field error like any file over the limit."""

    def __init__(self, name: str, size: int, content_type: str | None) -> None:
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size)


class FileSizeLimitHandler(FileUploadHandler):
    """First of ``FILE_UPLOAD_HANDLERS``: passes each file's chunks on to
    Django's handlers (memory, then a temporary file) until the file passes
    the per-file limit, then keeps none of the rest, so a 300 MB file costs no
    more memory or disk than a 25 MB one. The body is still read to its end (the
    rest of the form comes after the file), bounded by ``UploadSizeMiddleware``
    and the proxy's ``client_max_body_size``."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.DELIVERABLE_MAX_FILE_SIZE:
            self.over = True
            return None  # the handlers after this one never see it
        return raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.over:
            return OversizeUpload(self.file_name or "file", self.received, self.content_type)
        return None  # the next handler completes the file as usual
