"""Forms of the gig's "Images" page. They parse input; the rules live in ``gigs.images``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from gigs.images import ALT_TEXT_MAX, gig_image_alt_text, gig_image_check_upload
from marketplace.errors import InvalidInput

ALT_TEXT_HELP = _("What the image shows, for people who cannot see it, e.g. “Three logo sketches on a desk”.")


class GigImageAltField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Image description"))
        kwargs.setdefault("help_text", ALT_TEXT_HELP)
        # The service strips and measures (``gig_image_alt_text``); the browser's own limit helps.
        kwargs.setdefault("max_length", ALT_TEXT_MAX)
        kwargs.setdefault("error_messages", {"required": _("Describe the image for people who cannot see it.")})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        try:
            return gig_image_alt_text(text)
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None


class GigImageForm(forms.Form):
    """Adding an image: the file and its description, both errors reported at once."""

    image = forms.FileField(
        label=_("Image"),
        error_messages={"required": _("Choose an image to upload.")},
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    alt_text = GigImageAltField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["image"].help_text = format_lazy(
            _(
                "JPEG, PNG or WebP, up to {limit}. "
                "Shown up to 1200×900 pixels; the first image is the cover on gig cards and in search."
            ),
            limit=filesizeformat(settings.GIG_IMAGE_MAX_BYTES),
        )

    def clean_image(self) -> UploadedFile:
        upload = self.cleaned_data["image"]
        try:
            gig_image_check_upload(upload)
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None
        return upload


class GigImageAltForm(forms.Form):
    """Rewriting one image's description; prefixed with the image, as the page lists several (the
    help is said once, at the upload form)."""

    alt_text = GigImageAltField(help_text="")
