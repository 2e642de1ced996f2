"""Input that would pass for something it is not (issue 15): a username that
imitates another with look-alike letters, text of invisible characters only,
and a long file name that loses its extension when cut."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from marketplace.text import clean_text
from marketplace.uploads import safe_filename
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
FORM = {"email": "new@example.com", "password1": "A-long-pass-9x", "password2": "A-long-pass-9x"}


@pytest.mark.parametrize(
    ("existing", "username", "message"),
    [
        ("admin", "\u0430dmin", "mixes letters of different alphabets"),  # a Cyrillic "а" among Latin letters
        ("pope", "\u0440\u043e\u0440\u0435", "looks like that of another member"),  # all Cyrillic, reading "pope"
        ("admin", "ADMIN", "already"),
    ],
)
def test_a_username_that_passes_for_another_is_refused(existing, username, message):
    UserFactory(username=existing)
    response = Client().post(reverse("signup"), {**FORM, "username": username})
    assert message in response.content.decode()
    assert User.objects.count() == 1


def test_a_username_is_normalised():
    response = Client().post(reverse("signup"), {**FORM, "username": "\uff4a\uff4f"})  # fullwidth "jo"
    assert response.status_code == 302
    assert User.objects.filter(username="jo").exists()


def test_text_of_invisible_characters_only_is_no_text():
    assert clean_text("\u200b\u200c\u200d\ufeff \n") == ""
    assert clean_text("  hi\u200b ") == "hi\u200b"


def test_a_long_file_name_is_cut_in_its_stem_and_keeps_its_extension():
    name = safe_filename("x" * 300 + ".pdf")
    assert len(name) == 200 and name.endswith(".pdf")
    assert safe_filename("report.pdf") == "report.pdf"


def test_an_upload_over_the_limit_is_refused_before_its_body_is_read(client):
    """A 300 MB upload is refused from its declared length; not a byte of it is read."""
    import io

    from tests.factories import OrderFactory

    class Body(io.BytesIO):
        consumed = 0

        def read(self, *args):
            data = super().read(*args)
            Body.consumed += len(data)
            return data

        def readline(self, *args):
            data = super().readline(*args)
            Body.consumed += len(data)
            return data

    order = OrderFactory()
    client.force_login(order.buyer)
    body = Body(b'--x\r\nContent-Disposition: form-data; name="body"\r\n\r\nhello\r\n--x--\r\n')
    response = client.generic(
        "POST",
        reverse("order_message", args=[order.pk]),
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": body},
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "That upload is too large" in html and "300.0\u00a0MB" in html and "25.0\u00a0MB each" in html
    assert Body.consumed == 0
    from orders.models import OrderMessage

    assert not OrderMessage.objects.exists()


def test_a_file_past_the_limit_stops_being_kept_as_it_streams_and_gets_the_field_error(client, settings, monkeypatch):
    """Each file is counted as it streams in: past ``DELIVERABLE_MAX_FILE_SIZE``
    none of it reaches Django's memory or disk handlers, and the form still
    names the file and its size on the field, with the message kept."""
    import re

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler

    from milestones.models import Delivery
    from milestones.models import MilestoneState as S
    from tests.factories import milestone_in

    settings.DELIVERABLE_MAX_FILE_SIZE = 64 * 1024
    kept: dict[str, int] = {}
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        original = handler.receive_data_chunk

        def counting(self, raw_data, start, original=original):
            kept[self.file_name] = kept.get(self.file_name, 0) + len(raw_data)
            return original(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", counting)
    milestone = milestone_in(S.IN_PROGRESS)
    client.force_login(milestone.order.seller)
    big = SimpleUploadedFile("big.txt", b"a" * (600 * 1024))
    small = SimpleUploadedFile("notes.txt", b"hello\n")
    response = client.post(
        reverse("milestone_submit", args=[milestone.pk]), {"message": "See files", "files": [small, big]}
    )
    assert response.status_code == 200
    page = response.content.decode()
    error = re.search(r'id="id_files_error">([^<]*)<', page)
    assert error and "“big.txt” is 600.0\u00a0KB; the limit is 64.0\u00a0KB." in error.group(1)
    assert "See files" in page, "the message is kept for the next try"
    # Django reads in 64 KB chunks: at most the limit, rounded up to one chunk, was ever kept.
    assert kept["big.txt"] <= 64 * 1024 and kept["notes.txt"] == 6
    assert not Delivery.objects.exists()
