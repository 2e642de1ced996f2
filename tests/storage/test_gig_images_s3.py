"""Gig images in the bucket (moto's S3 server), as in production: both sizes are stored there and
nothing on disk, the page's image is streamed from the bucket by the site itself (the CSP allows
images from this site only), and a removed image's objects are deleted."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from gigs.images import gig_image_add, gig_image_remove
from tests.factories import GigFactory
from tests.images import camera_exif, picture_bytes, upload
from tests.storage.test_s3 import bucket, files_under, moto_bucket  # noqa: F401 - the bucket fixtures

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def test_an_image_lives_in_the_bucket(client, bucket, settings, django_capture_on_commit_callbacks):  # noqa: F811
    gig = GigFactory()
    content = picture_bytes("JPEG", (1600, 1200), exif=camera_exif())
    image = gig_image_add(gig=gig, seller=gig.seller, upload=upload(content), alt_text="Logo sketches")

    assert bucket.keys() == sorted([image.image.name, image.thumbnail.name])
    assert all(key.startswith(f"gigs/{gig.pk}/") for key in bucket.keys())  # noqa: SIM118 - Bucket.keys() lists the objects
    assert files_under(settings.MEDIA_ROOT) == []
    stored = Image.open(io.BytesIO(bucket.read(image.image.name)))
    assert stored.format == "WEBP" and stored.size == (1200, 900) and not stored.getexif()

    response = client.get(reverse("gig_image_file", args=[gig.pk, image.pk, "thumbnail"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert b"".join(response.streaming_content) == bucket.read(image.thumbnail.name)

    with django_capture_on_commit_callbacks(execute=True):
        gig_image_remove(gig=gig, seller=gig.seller, image_id=image.pk)
    assert bucket.keys() == []
