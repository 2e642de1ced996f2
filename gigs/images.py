"""Writes on a gig's images: adding one, removing it, moving it, describing it.

Only the gig's seller changes them, on a gig staff have not retired, with the
gig's row locked (``gigs.models.lock_gig``) so that two tabs adding a sixth
image at once store one. Positions stay 1..n without gaps; position 1 is the
cover on gig cards and in search.

An upload is judged by its content, never by its name or the content type the
browser declared: ``filetype`` (the signature check deliverables use) and
Pillow must both read it as JPEG, PNG or WebP, within ``GIG_IMAGE_MAX_BYTES``
and ``GIG_IMAGE_MAX_PIXELS``. What is stored is never the uploaded file: Pillow
decodes it, turns it upright (EXIF orientation), and encodes new pixels as WebP
in two sizes, so no metadata (EXIF with a phone's GPS position, ICC, XMP) and
no bytes of the upload survive. The names are ours (a UUID under
``gigs/<gig id>/``), in the storage that holds deliverables (the local folder,
or the private bucket in production); ``gigs.views.gig_image_file`` serves them.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps

from accounts.models import User
from gigs.models import MAX_IMAGES, Gig, GigImage
from gigs.services import _lock_own_gig
from marketplace.errors import InvalidInput, NotAllowed

# What a seller may upload, as ``filetype`` and Pillow name it.
ACCEPTED_SIGNATURES = {"jpg", "png", "webp"}
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# The boxes the two stored sizes fit in (never enlarged): the gig page's gallery, and the cards.
DISPLAY_BOX = (1200, 900)
THUMBNAIL_BOX = (400, 300)
STORED_FORMAT = "WEBP"
STORED_EXTENSION = "webp"
STORED_CONTENT_TYPE = "image/webp"
STORED_QUALITY = 82
ALT_TEXT_MAX = 200

UNREADABLE = gettext_lazy("Upload a JPEG, PNG or WebP image.")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendition:
    content: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Renditions:
    display: Rendition
    thumbnail: Rendition


def gig_image_alt_text(alt_text: str | None) -> str:
    """The description cleaned, or ``InvalidInput`` on ``alt_text``: it is what a screen reader
    says instead of the picture, so it is required."""
    text = " ".join((alt_text or "").split())
    if not text:
        raise InvalidInput(
            _("Describe the image for people who cannot see it, e.g. “Logo sketches on a desk”."), field="alt_text"
        )
    if len(text) > ALT_TEXT_MAX:
        raise InvalidInput(
            _("Keep the description to {limit} characters or fewer.").format(limit=ALT_TEXT_MAX), field="alt_text"
        )
    return text


def gig_image_check_upload(upload: UploadedFile) -> bytes:
    """The upload's content if its size is within the limit and its first bytes are a JPEG, PNG
    or WebP signature, or ``InvalidInput`` on ``image``. Cheap, so the form reports it with the
    other fields' errors; ``gig_image_render`` then decodes the whole picture."""
    size = upload.size or 0
    if size == 0:
        raise InvalidInput(_("The file is empty."), field="image")
    if size > settings.GIG_IMAGE_MAX_BYTES:
        raise InvalidInput(
            _("The image is {size}; the limit is {limit}.").format(
                size=filesizeformat(size), limit=filesizeformat(settings.GIG_IMAGE_MAX_BYTES)
            ),
            field="image",
        )
    upload.seek(0)
    data = upload.read(settings.GIG_IMAGE_MAX_BYTES + 1)
    upload.seek(0)
    kind = filetype.guess(data[:8192])
    if kind is None or kind.extension not in ACCEPTED_SIGNATURES:
        raise InvalidInput(str(UNREADABLE), field="image")
    return data


def gig_image_render(upload: UploadedFile) -> Renditions:
    """The upload checked by its content and re-encoded in both sizes, or ``InvalidInput`` on
    ``image``. Reads the whole file (at most ``GIG_IMAGE_MAX_BYTES``); writes nothing."""
    data = gig_image_check_upload(upload)
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice the limit refuses) on a picture of too many pixels;
            # our own, lower limit below is the one that applies, the warning must not pass.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _render(data)
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput(
            _("The image could not be read; it may be damaged. Upload a JPEG, PNG or WebP image."), field="image"
        ) from None


def _render(data: bytes) -> Renditions:
    with Image.open(io.BytesIO(data)) as probe:
        if probe.format not in ACCEPTED_FORMATS:
            raise InvalidInput(str(UNREADABLE), field="image")
        width, height = probe.size
        if width * height > settings.GIG_IMAGE_MAX_PIXELS:
            raise InvalidInput(
                _("The image is {width}×{height} pixels; the limit is {limit} million pixels.").format(
                    width=width, height=height, limit=f"{settings.GIG_IMAGE_MAX_PIXELS / 1_000_000:g}"
                ),
                field="image",
            )
        probe.verify()
    # ``verify`` leaves the image unusable: decode it again, from the first frame (an animated
    # PNG or WebP becomes a still).
    with Image.open(io.BytesIO(data)) as picture:
        if picture.format == "JPEG":
            # Decode a large JPEG at a fraction of its size (still larger than the display box).
            side = max(DISPLAY_BOX)
            picture.draft("RGB", (side, side))
        upright = ImageOps.exif_transpose(picture)
        has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
        pixels = upright.convert("RGBA" if has_alpha else "RGB")
    return Renditions(display=_encode(pixels, DISPLAY_BOX), thumbnail=_encode(pixels, THUMBNAIL_BOX))


def _encode(pixels: Image.Image, box: tuple[int, int]) -> Rendition:
    resized = pixels.copy()
    resized.thumbnail(box, Image.Resampling.LANCZOS)
    # A new image of the pixels alone: nothing of the upload's ``info`` (EXIF, ICC, XMP) can follow.
    clean = Image.frombytes(resized.mode, resized.size, resized.tobytes())
    out = io.BytesIO()
    clean.save(out, STORED_FORMAT, quality=STORED_QUALITY, method=4)
    return Rendition(out.getvalue(), clean.width, clean.height)


def _check_seller(gig: Gig, seller: User) -> None:
    # Before the work of decoding: an outsider's upload is refused at once.
    if gig.seller_id != seller.pk:
        raise NotAllowed(_("Only the gig's seller can change its images."))


def _touch(gig: Gig) -> None:
    # The seller's dashboard version (``Gig.updated_at``) sees the change.
    gig.save(update_fields=["updated_at"])


def _delete_files(names: list[str]) -> None:
    """Delete stored files; one the store fails to delete is logged and left (an orphan costs
    storage, not correctness), so the error that led here is the one raised."""
    storage = GigImage._meta.get_field("image").storage  # type: ignore[attr-defined]
    for name in names:
        if name:
            try:
                storage.delete(name)
            except Exception:
                logger.exception("gig_image_file_not_deleted", extra={"name": name})


def gig_image_add(*, gig: Gig, seller: User, upload: UploadedFile, alt_text: str) -> GigImage:
    """The seller adds an image, last in the order (the cover if it is the first).

    The files are written before the transaction, so no lock is held while a bucket is slow;
    if the row is then refused (a sixth image added from another tab meanwhile) or fails,
    they are deleted again, and nothing is left behind. (A caller's own transaction rolled
    back after this returned would leave the two files unreferenced: callers do not wrap it.)
    """
    _check_seller(gig, seller)
    text = gig_image_alt_text(alt_text)
    if gig.images.count() >= MAX_IMAGES:
        raise InvalidInput(
            _("A gig has at most {most} images; remove one first.").format(most=MAX_IMAGES), field="image"
        )
    renditions = gig_image_render(upload)
    stem = uuid.uuid4().hex
    image = GigImage(
        gig=gig,
        alt_text=text,
        width=renditions.display.width,
        height=renditions.display.height,
        thumbnail_width=renditions.thumbnail.width,
        thumbnail_height=renditions.thumbnail.height,
    )
    written: list[str] = []
    try:
        image.image.save(f"{stem}.{STORED_EXTENSION}", ContentFile(renditions.display.content), save=False)
        written.append(image.image.name or "")
        image.thumbnail.save(f"{stem}-thumb.{STORED_EXTENSION}", ContentFile(renditions.thumbnail.content), save=False)
        written.append(image.thumbnail.name or "")
        with transaction.atomic():
            locked = _lock_own_gig(gig=gig, actor=seller)
            count = GigImage.objects.filter(gig=locked).count()
            if count >= MAX_IMAGES:
                raise InvalidInput(
                    _("A gig has at most {most} images; remove one first.").format(most=MAX_IMAGES), field="image"
                )
            image.gig = locked
            image.position = count + 1
            image.save()
            _touch(locked)
    except BaseException:
        _delete_files(written)
        raise
    return image


def _locked_images(gig: Gig, seller: User, image_id: int) -> tuple[Gig, list[GigImage], GigImage]:
    """The gig locked, its images in order, and the one named. Call inside ``transaction.atomic()``."""
    _check_seller(gig, seller)
    locked = _lock_own_gig(gig=gig, actor=seller)
    images = list(GigImage.objects.filter(gig=locked).order_by("position"))
    for image in images:
        if image.pk == image_id:
            return locked, images, image
    raise InvalidInput(_("This image is no longer on the gig."), field="image")


def _renumber(images: list[GigImage]) -> None:
    """Give ``images`` the positions 1..n in their list order. The unique (gig, position) index
    is checked row by row, so the rows that move first step aside (above every position in use),
    then take their places."""
    moving = [(index, image) for index, image in enumerate(images, start=1) if image.position != index]
    above = max((image.position for image in images), default=0)
    for index, image in moving:
        image.position = above + index
        image.save(update_fields=["position"])
    for index, image in moving:
        image.position = index
        image.save(update_fields=["position"])


def gig_image_remove(*, gig: Gig, seller: User, image_id: int) -> None:
    """The seller removes an image; the ones after it move up (the second becomes the cover if the
    first went). Its files are deleted from storage once the removal is committed."""
    with transaction.atomic():
        locked, images, image = _locked_images(gig, seller, image_id)
        names = [image.image.name or "", image.thumbnail.name or ""]
        images.remove(image)
        image.delete()
        _renumber(images)
        _touch(locked)
        transaction.on_commit(lambda: _delete_files(names))


def gig_image_move(*, gig: Gig, seller: User, image_id: int, to_position: int) -> GigImage:
    """The seller moves an image to ``to_position`` (1 is the cover); the others close up around it."""
    with transaction.atomic():
        locked, images, image = _locked_images(gig, seller, image_id)
        if not 1 <= to_position <= len(images):
            raise InvalidInput(_("Choose a position from 1 to {last}.").format(last=len(images)), field="position")
        images.remove(image)
        images.insert(to_position - 1, image)
        _renumber(images)
        _touch(locked)
    return image


def gig_image_alt_edit(*, gig: Gig, seller: User, image_id: int, alt_text: str) -> GigImage:
    """The seller rewrites an image's description."""
    _check_seller(gig, seller)
    text = gig_image_alt_text(alt_text)
    with transaction.atomic():
        locked, _images, image = _locked_images(gig, seller, image_id)
        image.alt_text = text
        image.save(update_fields=["alt_text"])
        _touch(locked)
    return image


def gig_images_erase(*, seller: User) -> int:
    """Every image of the seller's gigs goes, rows now and files after the commit: their account
    is being deleted (``privacy.services``), and a picture may show them or their work. Call
    inside the caller's ``transaction.atomic()``, after it locked the user; the gigs are locked
    here, so an upload finishing at that moment is refused or erased too. Returns how many went."""
    list(Gig.objects.select_for_update().filter(seller=seller).order_by("pk").values_list("pk", flat=True))
    images = list(GigImage.objects.filter(gig__seller=seller))
    names = [name for image in images for name in (image.image.name or "", image.thumbnail.name or "")]
    GigImage.objects.filter(pk__in=[image.pk for image in images]).delete()
    transaction.on_commit(lambda: _delete_files(names))
    return len(images)
