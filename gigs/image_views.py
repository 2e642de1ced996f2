"""The gig's "Images" page, where its seller adds, describes, orders and removes images, and the
view that sends an image's stored file to whoever may see the gig."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts.http import AuthedRequest
from gigs import selectors as gig_selectors
from gigs.image_forms import GigImageAltForm, GigImageForm
from gigs.images import (
    STORED_CONTENT_TYPE,
    gig_image_add,
    gig_image_alt_edit,
    gig_image_move,
    gig_image_remove,
)
from gigs.models import MAX_IMAGES, Gig
from gigs.views import _own_gig
from marketplace.errors import DomainError
from marketplace.forms import show_domain_error

# A stored file never changes under its URL (a new upload is a new image), so browsers and any
# cache in front may keep it; a removed image may linger there this long.
IMAGE_CACHE_SECONDS = 24 * 60 * 60


def _page(
    request: AuthedRequest,
    gig: Gig,
    *,
    form: GigImageForm | None = None,
    failed_alt: tuple[int, GigImageAltForm] | None = None,
) -> HttpResponse:
    images = gig_selectors.gig_images(gig)
    rows = []
    for image in images:
        if failed_alt and failed_alt[0] == image.pk:
            alt_form = failed_alt[1]
        else:
            alt_form = GigImageAltForm(prefix=f"image-{image.pk}", initial={"alt_text": image.alt_text})
        rows.append((image, alt_form))
    context = {
        "gig": gig,
        "rows": rows,
        "form": form or GigImageForm(),
        "max_images": MAX_IMAGES,
        "is_full": len(images) >= MAX_IMAGES,
    }
    failed = (form is not None and bool(form.errors)) or failed_alt is not None
    return render(request, "gigs/gig_images.html", context, status=400 if failed else 200)


@login_required
def gig_images_view(request: AuthedRequest, pk: int) -> HttpResponse:
    """The page, and adding an image (POST)."""
    gig = _own_gig(request, pk)
    if request.method != "POST":
        return _page(request, gig)
    form = GigImageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            gig_image_add(
                gig=gig, seller=request.user, upload=form.cleaned_data["image"], alt_text=form.cleaned_data["alt_text"]
            )
        except DomainError as error:
            show_domain_error(request, form, error)
            if not form.errors:
                return redirect("gig_images", pk=gig.pk)
        else:
            messages.success(request, _("The image is added."))
            return redirect("gig_images", pk=gig.pk)
    return _page(request, gig, form=form)


@login_required
@require_POST
def gig_image_alt_view(request: AuthedRequest, pk: int, image_pk: int) -> HttpResponse:
    gig = _own_gig(request, pk)
    form = GigImageAltForm(request.POST, prefix=f"image-{image_pk}")
    if form.is_valid():
        try:
            gig_image_alt_edit(gig=gig, seller=request.user, image_id=image_pk, alt_text=form.cleaned_data["alt_text"])
        except DomainError as error:
            show_domain_error(request, form, error)
            if not form.errors:
                return redirect("gig_images", pk=gig.pk)
        else:
            messages.success(request, _("The image description is saved."))
            return redirect("gig_images", pk=gig.pk)
    return _page(request, gig, failed_alt=(image_pk, form))


@login_required
@require_POST
def gig_image_move_view(request: AuthedRequest, pk: int, image_pk: int) -> HttpResponse:
    """ "Move up" (towards the cover) and "Move down" send the position the page showed next to it."""
    gig = _own_gig(request, pk)
    try:
        to_position = int(request.POST.get("to_position", ""))
    except ValueError:
        to_position = 0
    try:
        gig_image_move(gig=gig, seller=request.user, image_id=image_pk, to_position=to_position)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The image is now the cover.") if to_position == 1 else _("The image is moved."))
    return redirect("gig_images", pk=gig.pk)


@login_required
@require_POST
def gig_image_remove_view(request: AuthedRequest, pk: int, image_pk: int) -> HttpResponse:
    gig = _own_gig(request, pk)
    try:
        gig_image_remove(gig=gig, seller=request.user, image_id=image_pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The image is removed."))
    return redirect("gig_images", pk=gig.pk)


@require_safe
def gig_image_file(request: HttpRequest, pk: int, image_pk: int, size: str) -> HttpResponseBase:
    """An image's display size or thumbnail, inline, to whoever may see the gig's page. Streamed
    from the storage (the folder or the bucket) rather than redirected to a presigned URL: the
    page's Content-Security-Policy allows images from this site only, and the files are small."""
    if size not in ("display", "thumbnail"):
        raise Http404("No such size")
    image = gig_selectors.gig_image_for_viewer(request.user, pk, image_pk)
    stored = image.thumbnail if size == "thumbnail" else image.image
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404("The image file is gone") from None
    response = FileResponse(handle, content_type=STORED_CONTENT_TYPE)
    response["X-Content-Type-Options"] = "nosniff"
    listed = image.gig.is_active
    response["Cache-Control"] = f"public, max-age={IMAGE_CACHE_SECONDS}" if listed else "private, no-cache"
    return response
