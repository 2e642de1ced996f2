"""Pictures built in memory with Pillow, as a seller's camera or editor would send them."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# EXIF tags: the orientation, the camera's make, and the pointer to the GPS block.
ORIENTATION = 0x0112
MAKE = 0x010F
GPS_IFD = 0x8825


def picture_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (640, 480), *, mode: str = "RGB", exif: Image.Exif | None = None
) -> bytes:
    """A picture whose left half is red and right half blue (so a rotation shows)."""
    picture = Image.new(mode, size, "red")
    picture.paste("blue", (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    options = {"exif": exif} if exif is not None else {}
    picture.save(out, fmt, **options)
    return out.getvalue()


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def camera_exif(*, orientation: int = 1) -> Image.Exif:
    """What a phone writes: its make, where the photo was taken, and how it was held."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneCo"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.0)
    return exif
