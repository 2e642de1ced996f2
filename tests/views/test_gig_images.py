"""The gig's "Images" page, the gallery on the gig page, the files it links to, and the covers on
the gig list: what the seller, a buyer and an outsider see and may do."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from gigs.images import gig_image_add
from gigs.models import MAX_IMAGES, Gig, GigImage
from tests.backends import BOTH
from tests.factories import GigFactory, GigImageFactory, UserFactory
from tests.images import picture_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def gig(seller):
    return GigFactory(seller=seller, title="I will design your logo")


def add(gig: Gig, alt: str, size: tuple[int, int] = (800, 600)) -> GigImage:
    content = picture_bytes("PNG", size)
    return gig_image_add(gig=gig, seller=gig.seller, upload=upload(content, "p.png"), alt_text=alt)


def page_url(gig: Gig) -> str:
    return reverse("gig_images", args=[gig.pk])


def alts(gig: Gig) -> list[str]:
    return list(GigImage.objects.filter(gig=gig).order_by("position").values_list("alt_text", flat=True))


# --- the seller's page ---------------------------------------------------------------------------


def test_the_seller_finds_images_from_the_gig_page_and_the_editor(client, gig):
    client.force_login(gig.seller)
    for url in (reverse("gig_detail", args=[gig.pk]), reverse("gig_edit", args=[gig.pk])):
        html = client.get(url).content.decode()
        assert f'href="{page_url(gig)}">Images</a>' in html


def test_others_get_no_images_link_and_404_on_the_page_and_its_forms(client, gig, outsider):
    image = add(gig, "Logo sketches")
    client.force_login(outsider)
    assert f'href="{page_url(gig)}"' not in client.get(reverse("gig_detail", args=[gig.pk])).content.decode()
    assert client.get(page_url(gig)).status_code == 404
    posts = {
        page_url(gig): {"alt_text": "Mine"},
        reverse("gig_image_alt", args=[gig.pk, image.pk]): {f"image-{image.pk}-alt_text": "Mine"},
        reverse("gig_image_move", args=[gig.pk, image.pk]): {"to_position": "1"},
        reverse("gig_image_remove", args=[gig.pk, image.pk]): {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 404
    assert alts(gig) == ["Logo sketches"]
    client.logout()
    assert client.get(page_url(gig)).status_code == 302  # to the log-in page


def test_the_seller_uploads_an_image_with_its_description(client, gig):
    client.force_login(gig.seller)
    response = client.post(
        page_url(gig),
        {"image": upload(picture_bytes("JPEG", (1600, 1200)), "holiday.jpg"), "alt_text": " Three logo sketches "},
        follow=True,
    )
    assert response.status_code == 200
    assert "The image is added." in response.content.decode()
    image = GigImage.objects.get(gig=gig)
    assert (image.alt_text, image.position, image.width, image.height) == ("Three logo sketches", 1, 1200, 900)
    html = response.content.decode()
    assert 'value="Three logo sketches"' in html and ">Cover</span>" in html


def test_a_bad_upload_gets_both_field_errors_and_changes_nothing(client, gig, media):
    client.force_login(gig.seller)
    text = upload(b"not a picture, only words\n" * 10, "photo.jpg", "image/jpeg")
    response = client.post(page_url(gig), {"image": text, "alt_text": "   "})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_image_error"' in html and "Upload a JPEG, PNG or WebP image." in html
    assert 'id="id_alt_text_error"' in html
    assert not GigImage.objects.exists()
    assert not any(media.rglob("*.webp"))


def test_a_damaged_image_is_refused_next_to_the_file_field(client, gig):
    client.force_login(gig.seller)
    cut = upload(picture_bytes("PNG", (400, 300))[:200], "cut.png", "image/png")
    response = client.post(page_url(gig), {"image": cut, "alt_text": "A sketch"})
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert not GigImage.objects.exists()


def test_a_full_gig_offers_no_upload_form(client, gig):
    for number in range(MAX_IMAGES):
        GigImageFactory(gig=gig, position=number + 1)
    client.force_login(gig.seller)
    html = client.get(page_url(gig)).content.decode()
    assert "the most it can have" in html and 'type="file"' not in html


def test_a_retired_gigs_images_page_offers_no_change(client, gig):
    add(gig, "Logo sketches")
    Gig.objects.filter(pk=gig.pk).update(is_active=False)  # staff retire it in the admin
    client.force_login(gig.seller)
    html = client.get(page_url(gig)).content.decode()
    assert "can no longer be changed" in html
    # (The footer's language selector has a button of its own, on every page.)
    assert 'type="file"' not in html and "<button" not in html.split("<main")[1].split("<footer")[0]


def test_the_seller_moves_describes_and_removes_images(client, gig, media, django_capture_on_commit_callbacks):
    first, second, third = (add(gig, alt, (80, 60)) for alt in ("One", "Two", "Three"))
    client.force_login(gig.seller)
    html = client.get(page_url(gig)).content.decode()
    assert html.count(">Move up</button>") == 2 and html.count(">Move down</button>") == 2
    assert html.count(">Remove</button>") == 3

    response = client.post(reverse("gig_image_move", args=[gig.pk, third.pk]), {"to_position": "2"}, follow=True)
    assert alts(gig) == ["One", "Three", "Two"] and "The image is moved." in response.content.decode()
    response = client.post(reverse("gig_image_move", args=[gig.pk, third.pk]), {"to_position": "1"}, follow=True)
    assert alts(gig) == ["Three", "One", "Two"] and "The image is now the cover." in response.content.decode()

    client.post(reverse("gig_image_alt", args=[gig.pk, second.pk]), {f"image-{second.pk}-alt_text": "Second"})
    assert alts(gig) == ["Three", "One", "Second"]
    response = client.post(reverse("gig_image_alt", args=[gig.pk, second.pk]), {f"image-{second.pk}-alt_text": ""})
    assert response.status_code == 400 and f'id="id_image-{second.pk}-alt_text_error"' in response.content.decode()
    assert alts(gig) == ["Three", "One", "Second"]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("gig_image_remove", args=[gig.pk, third.pk]))
    assert alts(gig) == ["One", "Second"]
    assert list(GigImage.objects.filter(gig=gig).values_list("position", flat=True).order_by("position")) == [1, 2]
    assert len(list(media.rglob("*.webp"))) == 4
    assert first.pk in GigImage.objects.values_list("pk", flat=True)


# --- the gig page and the files ---------------------------------------------------------------


def test_the_gallery_shows_the_cover_first_sized_and_described_the_rest_lazily(client, gig, buyer):
    add(gig, "Logo sketches", (2400, 1200))
    add(gig, "Colour board")
    add(gig, "Final logo on a mug")
    client.force_login(buyer)
    html = client.get(reverse("gig_detail", args=[gig.pk])).content.decode()
    images = re.findall(r"<img [^>]*>", html.split('class="gig-gallery"')[1].split("</section>")[0])
    assert len(images) == 3
    assert 'alt="Logo sketches"' in images[0] and 'width="1200" height="600"' in images[0]
    assert 'loading="lazy"' not in images[0]
    assert all('loading="lazy"' in tag and 'width="800" height="600"' in tag for tag in images[1:])
    assert 'alt="Colour board"' in images[1] and 'alt="Final logo on a mug"' in images[2]


def test_a_gig_without_images_has_no_gallery(client, gig):
    assert 'class="gig-gallery"' not in client.get(reverse("gig_detail", args=[gig.pk])).content.decode()


def test_the_image_files_are_sent_inline_to_anyone_who_may_see_the_gig(client, gig):
    image = add(gig, "Logo sketches", (1600, 1200))
    for size, expected in (("display", (1200, 900)), ("thumbnail", (400, 300))):
        response = client.get(reverse("gig_image_file", args=[gig.pk, image.pk, size]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/webp"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "attachment" not in response.get("Content-Disposition", "")
        assert "public" in response["Cache-Control"]
        assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == expected


def test_image_files_of_a_retired_gig_or_another_gig_are_404(client, gig, seller, outsider):
    image = add(gig, "Logo sketches")
    other = GigFactory(seller=seller)
    assert client.get(reverse("gig_image_file", args=[other.pk, image.pk, "display"])).status_code == 404
    assert client.get(reverse("gig_image_file", args=[gig.pk, image.pk, "original"])).status_code == 404
    Gig.objects.filter(pk=gig.pk).update(is_active=False)  # staff retire it in the admin
    client.force_login(outsider)
    assert client.get(reverse("gig_image_file", args=[gig.pk, image.pk, "display"])).status_code == 404
    client.force_login(seller)
    response = client.get(reverse("gig_image_file", args=[gig.pk, image.pk, "display"]))
    assert response.status_code == 200 and "private" in response["Cache-Control"]


def test_a_lost_file_is_404(client, gig, media):
    image = add(gig, "Logo sketches")
    (media / image.image.name).unlink()
    assert client.get(reverse("gig_image_file", args=[gig.pk, image.pk, "display"])).status_code == 404


# --- covers on the list --------------------------------------------------------------------------


def test_a_card_shows_its_cover_thumbnail_or_a_block_of_the_same_size(client, seller):
    with_cover = GigFactory(seller=seller, title="Logo design with a cover")
    GigImageFactory(gig=with_cover, position=1, alt_text="The cover", thumbnail_width=400, thumbnail_height=250)
    GigImageFactory(gig=with_cover, position=2, alt_text="Not the cover")
    GigFactory(seller=seller, title="Copywriting without images")
    html = client.get(reverse("home")).content.decode()
    cover = re.search(r'<img class="gig-cover"[^>]*>', html)
    assert cover and 'alt="The cover"' in cover.group() and 'width="400" height="250"' in cover.group()
    assert "thumbnail.webp" in cover.group()
    assert "Not the cover" not in html
    assert html.count('class="gig-cover gig-cover-empty" aria-hidden="true"') == 1


def list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/", "/?q=logo", "/?sort=price&min_price=1"])
def test_the_list_and_search_stay_flat_in_queries_with_covers(client, url, django_assert_num_queries):
    sellers = [UserFactory() for _ in range(3)]

    def make(count: int) -> None:
        for number in range(count):
            gig = GigFactory(seller=sellers[number % 3], title=f"I will design your logo {number}")
            if number % 2 == 0:
                GigImageFactory(gig=gig, position=1)
                GigImageFactory(gig=gig, position=2)

    client.force_login(sellers[0])
    make(3)
    few = list_queries(client, url)
    make(27)
    with django_assert_num_queries(few):
        html = client.get(url).content.decode()
    assert html.count('<img class="gig-cover"') >= 6


def test_staff_see_the_images_read_only_in_the_gig_admin(admin_client, gig):
    GigImageFactory(gig=gig, position=1, alt_text="Logo sketches")
    html = admin_client.get(reverse("admin:gigs_gig_change", args=[gig.pk])).content.decode()
    assert "Logo sketches" in html
    assert reverse("gig_image_file", args=[gig.pk, gig.images.get().pk, "thumbnail"]) in html
    assert 'name="images-0-alt_text"' not in html  # shown, not editable

    # Staff still retire the gig from this page, as a browser sends it; the image stays as it was.
    image = gig.images.get()
    form = {
        "seller": gig.seller.pk,
        "title": gig.title,
        "description": gig.description,
        "starting_price_0": "100.00",
        "starting_price_1": "USD",
        "delivery_days": gig.delivery_days,
        "category": gig.category,
        "images-TOTAL_FORMS": "1",
        "images-INITIAL_FORMS": "1",
        "images-0-id": image.pk,
        "images-0-gig": gig.pk,
    }
    # The other read-only inlines' management forms, with their rows, as the page sends them.
    for inline, rows in (
        ("packages", gig.packages.all()),
        ("extras", gig.extras.all()),
        ("questions", gig.questions.all()),
    ):
        form.update({f"{inline}-TOTAL_FORMS": str(len(rows)), f"{inline}-INITIAL_FORMS": str(len(rows))})
        for index, row in enumerate(rows):
            form.update({f"{inline}-{index}-id": row.pk, f"{inline}-{index}-gig": gig.pk})
    response = admin_client.post(reverse("admin:gigs_gig_change", args=[gig.pk]), form)
    assert response.status_code == 302, response.content.decode()
    gig.refresh_from_db()
    assert gig.is_retired
    assert list(gig.images.values_list("pk", "position", "alt_text")) == [(image.pk, 1, "Logo sketches")]


@pytest.mark.django_db(databases=BOTH)
def test_covers_show_on_both_databases(client, backend):
    seller = UserFactory(username=f"seller_{backend}")  # on the database under test
    gig = GigFactory(seller=seller, title="Logo design with a cover")
    GigImageFactory(gig=gig, position=1, alt_text="The cover", thumbnail_width=400, thumbnail_height=300)
    GigFactory(seller=seller, title="Logo design without one")
    for url in (reverse("home"), reverse("home") + "?q=logo"):
        html = client.get(url).content.decode()
        assert re.search(r'<img class="gig-cover"[^>]*alt="The cover"', html), (backend, url)
        assert html.count("gig-cover-empty") == 1


def test_the_list_costs_the_same_queries_at_10_and_10000_gigs_with_covers(client, buyer):
    def bulk(count: int, start: int) -> None:
        sellers = UserFactory.create_batch(2)
        gigs = Gig.objects.bulk_create(
            GigFactory.build(seller=sellers[n % 2], title=f"I will design logo number {start + n}")
            for n in range(count)
        )
        GigImage.objects.bulk_create(
            GigImage(
                gig=gig,
                position=1,
                image=f"gigs/{gig.pk}/cover.webp",
                thumbnail=f"gigs/{gig.pk}/cover-thumb.webp",
                width=1200,
                height=900,
                thumbnail_width=400,
                thumbnail_height=300,
                alt_text=f"Cover of logo {start + n}",
            )
            for n, gig in enumerate(gigs)
            if n % 3
        )

    client.force_login(buyer)
    bulk(10, start=0)
    urls = [reverse("home"), reverse("home") + "?q=logo&sort=price", reverse("home") + "?page=2"]
    few = [list_queries(client, url) for url in urls[:2]]
    bulk(9_990, start=10)
    assert [list_queries(client, url) for url in urls[:2]] == few
    assert list_queries(client, urls[2]) == few[0]


def test_the_images_pages_are_valid_html(client, gig, buyer, tmp_path):
    from tests.quality.test_html_valid import _errors, _java

    java = _java()
    GigImageFactory(gig=gig, position=1, alt_text="Logo sketches")
    GigImageFactory(gig=gig, position=2, alt_text="Colour board")
    GigFactory(title="A logo gig without images")
    files = []

    def keep(name: str, response) -> None:
        path = tmp_path / f"{name}.html"
        path.write_bytes(response.content)
        files.append(str(path))

    client.force_login(gig.seller)
    keep("images", client.get(page_url(gig)))
    keep("images-errors", client.post(page_url(gig), {"alt_text": ""}))
    keep("gig-as-seller", client.get(reverse("gig_detail", args=[gig.pk])))
    client.force_login(buyer)
    keep("gig-as-buyer", client.get(reverse("gig_detail", args=[gig.pk])))
    keep("list", client.get(reverse("home")))
    keep("search", client.get(reverse("home") + "?q=logo"))
    errors = _errors(java, files)
    assert not errors, "\n".join(errors)
