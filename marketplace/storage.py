"""Sending a stored file to a viewer the caller has already checked.

Two kinds of storage (settings.py, "Static and media"): the local folder, the
embedded default, and an S3-compatible bucket when ``AWS_STORAGE_BUCKET_NAME``
is set. From the folder the file is streamed through the view, as an
attachment. From a bucket the view answers with a redirect to a presigned URL
that expires in seconds (``AWS_QUERYSTRING_EXPIRE``) and makes the store send
the bytes as the same attachment, so no web process holds a copy or streams it.
Either way the permission check stays in the calling view, before this.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponseBase, HttpResponseRedirect
from django.utils.http import content_disposition_header


def is_s3(storage: Storage) -> bool:
    """True for django-storages' S3 backend (AWS, MinIO, any S3-compatible store)."""
    if not hasattr(storage, "bucket_name"):
        return False
    # Imported only here: it loads boto3, which the local default never needs.
    from storages.backends.s3 import S3Storage

    return isinstance(storage, S3Storage)


def serve_file(stored: FieldFile, filename: str, content_type: str = "application/octet-stream") -> HttpResponseBase:
    """The file as a download named ``filename``; 404 if the folder has lost it."""
    storage = stored.storage
    if is_s3(storage):
        s3: Any = storage
        url = s3.url(
            stored.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(as_attachment=True, filename=filename),
                "ResponseContentType": content_type,
            },
            # AWS_QUERYSTRING_EXPIRE, or the storage's own OPTIONS value.
            expire=s3.querystring_expire,
        )
        redirect = HttpResponseRedirect(url)
        # The URL is a bearer token until it expires: no cache keeps it, and
        # the store is not told which page linked to it.
        redirect["Cache-Control"] = "private, no-store"
        redirect["Referrer-Policy"] = "no-referrer"
        return redirect
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("The file is gone") from None
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
