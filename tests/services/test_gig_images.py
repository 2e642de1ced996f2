"""A gig's images (gigs/images.py): judged by content, re-encoded without metadata in two sizes,
at most six, only by the seller, positions kept 1..n, files gone with their row."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.db import IntegrityError
from PIL import Image

from gigs import images as gig_images
from gigs.images import gig_image_add, gig_image_alt_edit, gig_image_move, gig_image_remove
from gigs.models import MAX_IMAGES, Gig, GigImage
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from tests.factories import GigFactory, GigImageFactory
from tests.images import GPS_IFD, camera_exif, picture_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def gig(seller):
    return GigFactory(seller=seller)


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file())


def add(gig: Gig, content: bytes | None = None, *, name: str = "photo.jpg", alt: str = "Logo sketches") -> GigImage:
    return gig_image_add(
        gig=gig, seller=gig.seller, upload=upload(picture_bytes() if content is None else content, name), alt_text=alt
    )


def opened(field) -> Image.Image:
    with field.open("rb") as handle:
        picture = Image.open(io.BytesIO(handle.read()))
        picture.load()
    return picture


def positions(gig: Gig) -> list[tuple[int, str]]:
    return list(GigImage.objects.filter(gig=gig).order_by("position").values_list("position", "alt_text"))


# --- what is accepted, and what is stored -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_jpeg_png_or_webp_is_stored_as_a_display_size_and_a_thumbnail(gig, media, fmt):
    image = add(gig, picture_bytes(fmt, (2400, 1800)), name=f"photo.{fmt.lower()}")

    assert (image.position, image.alt_text) == (1, "Logo sketches")
    assert (image.width, image.height) == (1200, 900)
    assert (image.thumbnail_width, image.thumbnail_height) == (400, 300)
    display, thumbnail = opened(image.image), opened(image.thumbnail)
    assert display.format == thumbnail.format == "WEBP"
    assert display.size == (1200, 900) and thumbnail.size == (400, 300)
    assert image.image.name.startswith(f"gigs/{gig.pk}/") and image.image.name.endswith(".webp")
    assert len(stored_files(media)) == 2


def test_a_small_picture_is_never_enlarged(gig):
    image = add(gig, picture_bytes("PNG", (300, 200)), name="small.png")
    assert (image.width, image.height, image.thumbnail_width, image.thumbnail_height) == (300, 200, 300, 200)


def test_a_transparent_png_keeps_its_transparency(gig):
    logo = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (50, 50, 150, 150))
    content = io.BytesIO()
    logo.save(content, "PNG")
    stored = opened(add(gig, content.getvalue(), name="logo.png").image)
    assert stored.mode == "RGBA"
    alpha = stored.getchannel("A")
    assert alpha.getpixel((10, 10)) == 0 and alpha.getpixel((100, 100)) == 255


def test_the_camera_metadata_gps_included_is_not_stored(gig):
    original = picture_bytes("JPEG", (800, 600), exif=camera_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the upload has it

    image = add(gig, original)

    for field in (image.image, image.thumbnail):
        stored = opened(field)
        assert not stored.getexif()
        assert not {"exif", "icc_profile", "xmp"} & set(stored.info)
        with field.open("rb") as handle:
            raw = handle.read()
        assert b"PhoneCo" not in raw and b"Exif" not in raw


def test_the_orientation_the_camera_recorded_is_applied(gig):
    # Stored 400×200 with "rotate 90° clockwise to view": upright it is 200×400, left half red
    # turned to the top.
    image = add(gig, picture_bytes("JPEG", (400, 200), exif=camera_exif(orientation=6)))

    assert (image.width, image.height) == (200, 400)
    upright = opened(image.image).convert("RGB")
    red, _green, blue = upright.split()
    top, bottom = (100, 50), (100, 350)
    assert red.getpixel(top) > 200 and blue.getpixel(top) < 60  # red
    assert blue.getpixel(bottom) > 200 and red.getpixel(bottom) < 60  # blue


def test_the_stored_names_are_ours_never_the_uploaders(gig):
    image = add(gig, name="../../etc/<script>holiday.jpg")
    for name in (image.image.name, image.thumbnail.name):
        assert "holiday" not in name and "script" not in name and ".." not in name


def test_a_png_named_gif_is_judged_by_its_content_and_accepted(gig):
    image = add(gig, picture_bytes("PNG"), name="drawing.gif")
    assert image.position == 1


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"just some text, not a picture at all\n" * 20, "photo.jpg"),
        (picture_bytes("GIF"), "animation.gif"),
        (picture_bytes("GIF"), "disguised.png"),
        (picture_bytes("BMP"), "scan.jpg"),
        (picture_bytes("JPEG")[:300], "cut-short.jpg"),
        (b"", "empty.jpg"),
    ],
    ids=["text-named-jpg", "gif", "gif-named-png", "bmp", "truncated-jpeg", "empty"],
)
def test_anything_but_a_whole_jpeg_png_or_webp_is_refused_and_nothing_stored(gig, media, content, name):
    with pytest.raises(InvalidInput) as refused:
        add(gig, content, name=name)
    assert refused.value.field == "image"
    assert not GigImage.objects.exists()
    assert stored_files(media) == []


def test_a_file_over_the_size_limit_is_refused(gig, media, settings):
    content = picture_bytes("PNG", (400, 300))
    settings.GIG_IMAGE_MAX_BYTES = len(content) - 1
    with pytest.raises(InvalidInput, match="the limit is") as refused:
        add(gig, content, name="big.png")
    assert refused.value.field == "image"
    assert stored_files(media) == []


def test_a_picture_of_too_many_pixels_is_refused_before_it_is_decoded(gig, media, settings):
    # A few kilobytes of PNG that would unpack to 36 million pixels: the decompression bomb.
    settings.GIG_IMAGE_MAX_PIXELS = 10_000_000
    content = picture_bytes("PNG", (6000, 6000), mode="L")
    assert len(content) < 200_000
    with pytest.raises(InvalidInput, match="million pixels"):
        add(gig, content, name="bomb.png")
    assert stored_files(media) == []


@pytest.mark.parametrize(("alt", "expected"), [("  Logo   sketches \n", "Logo sketches"), ("x" * 200, "x" * 200)])
def test_the_description_is_stripped_and_kept(gig, alt, expected):
    assert add(gig, alt=alt).alt_text == expected


@pytest.mark.parametrize("alt", ["", "   ", "x" * 201])
def test_an_image_without_a_description_or_with_a_long_one_is_refused(gig, media, alt):
    with pytest.raises(InvalidInput) as refused:
        add(gig, alt=alt)
    assert refused.value.field == "alt_text"
    assert stored_files(media) == []


# --- who, and how many -------------------------------------------------------------------------


def test_only_the_seller_adds_an_image(gig, outsider, media):
    with pytest.raises(NotAllowed):
        gig_image_add(gig=gig, seller=outsider, upload=upload(picture_bytes()), alt_text="Mine now")
    assert stored_files(media) == []


def test_a_retired_gig_takes_no_image_and_its_files_are_deleted(seller, media):
    gig = GigFactory(seller=seller, is_active=False)
    with pytest.raises(InvalidTransition):
        add(gig)
    assert not GigImage.objects.exists()
    assert stored_files(media) == []


def test_a_seventh_image_is_refused(gig, media):
    for number in range(MAX_IMAGES):
        add(gig, alt=f"Image {number + 1}")
    with pytest.raises(InvalidInput, match="at most 6 images"):
        add(gig, alt="Image 7")
    assert [position for position, _ in positions(gig)] == [1, 2, 3, 4, 5, 6]
    assert len(stored_files(media)) == 12


def test_a_seventh_image_added_meanwhile_from_another_tab_leaves_no_file(gig, media, monkeypatch):
    # The count before decoding saw five; by the time the row is written under the gig's lock
    # there are six.
    for number in range(MAX_IMAGES - 1):
        add(gig, alt=f"Image {number + 1}")
    real_render = gig_images.gig_image_render

    def render_while_another_tab_adds(upload):
        monkeypatch.undo()
        add(gig, alt="From the other tab")
        return real_render(upload)

    monkeypatch.setattr(gig_images, "gig_image_render", render_while_another_tab_adds)
    with pytest.raises(InvalidInput, match="at most 6 images"):
        add(gig, alt="Image 6")
    assert len(positions(gig)) == MAX_IMAGES
    assert len(stored_files(media)) == 2 * MAX_IMAGES


def test_a_failed_database_write_leaves_no_file(gig, media, monkeypatch):
    def refuse(*args, **kwargs):
        raise IntegrityError("the database refused")

    monkeypatch.setattr(GigImage, "save", refuse)
    with pytest.raises(IntegrityError):
        add(gig)
    assert stored_files(media) == []


# --- order, description, removal ---------------------------------------------------------------


@pytest.fixture
def three(gig) -> list[GigImage]:
    return [add(gig, picture_bytes("PNG", (40, 30)), name="a.png", alt=alt) for alt in ("One", "Two", "Three")]


def test_moving_an_image_keeps_the_positions_contiguous(gig, three):
    gig_image_move(gig=gig, seller=gig.seller, image_id=three[2].pk, to_position=1)
    assert positions(gig) == [(1, "Three"), (2, "One"), (3, "Two")]
    gig_image_move(gig=gig, seller=gig.seller, image_id=three[2].pk, to_position=2)
    assert positions(gig) == [(1, "One"), (2, "Three"), (3, "Two")]
    gig_image_move(gig=gig, seller=gig.seller, image_id=three[0].pk, to_position=3)
    assert positions(gig) == [(1, "Three"), (2, "Two"), (3, "One")]


@pytest.mark.parametrize("to_position", [0, 4])
def test_a_move_out_of_range_is_refused_and_changes_nothing(gig, three, to_position):
    with pytest.raises(InvalidInput):
        gig_image_move(gig=gig, seller=gig.seller, image_id=three[0].pk, to_position=to_position)
    assert positions(gig) == [(1, "One"), (2, "Two"), (3, "Three")]


def test_removing_an_image_closes_the_gap_and_deletes_its_files(gig, three, media, django_capture_on_commit_callbacks):
    removed = [three[0].image.name, three[0].thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        gig_image_remove(gig=gig, seller=gig.seller, image_id=three[0].pk)

    assert positions(gig) == [(1, "Two"), (2, "Three")]
    assert len(stored_files(media)) == 4
    assert not any((media / name).exists() for name in removed)


def test_the_description_is_edited_by_the_seller_only(gig, three, outsider):
    gig_image_alt_edit(gig=gig, seller=gig.seller, image_id=three[1].pk, alt_text="  Second screen ")
    assert positions(gig)[1] == (2, "Second screen")
    with pytest.raises(InvalidInput):
        gig_image_alt_edit(gig=gig, seller=gig.seller, image_id=three[1].pk, alt_text=" ")
    for change in (
        lambda: gig_image_alt_edit(gig=gig, seller=outsider, image_id=three[1].pk, alt_text="Mine"),
        lambda: gig_image_move(gig=gig, seller=outsider, image_id=three[1].pk, to_position=1),
        lambda: gig_image_remove(gig=gig, seller=outsider, image_id=three[1].pk),
    ):
        with pytest.raises(NotAllowed):
            change()
    assert positions(gig) == [(1, "One"), (2, "Second screen"), (3, "Three")]


def test_an_image_of_another_gig_is_not_found_through_this_one(gig, three, seller):
    other = GigFactory(seller=seller)
    with pytest.raises(InvalidInput, match="no longer on the gig"):
        gig_image_remove(gig=other, seller=seller, image_id=three[0].pk)
    assert len(positions(gig)) == 3


def test_the_demo_gig_gets_four_drawn_images_once(gig, media):
    from demo.images import seed_gig_images

    seed_gig_images(gig)
    seed_gig_images(gig)
    assert [alt.split("“")[1].split("”")[0] for _, alt in positions(gig)] == [
        "UI/UX design",
        "Backend development",
        "Testing",
        "Final launch",
    ]
    assert len(stored_files(media)) == 8


# --- races on PostgreSQL -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_tabs_adding_the_sixth_image_at_once_store_one(seller, media):
    from tests.concurrency import run_together

    gig = GigFactory(seller=seller)
    for number in range(MAX_IMAGES - 1):
        GigImageFactory(gig=gig, position=number + 1)
    content = picture_bytes("PNG", (200, 150))

    results = run_together(
        lambda: gig_image_add(gig=gig, seller=seller, upload=upload(content, "a.png"), alt_text="Tab one"),
        lambda: gig_image_add(gig=gig, seller=seller, upload=upload(content, "b.png"), alt_text="Tab two"),
    )

    refused = [result for result in results if isinstance(result, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], InvalidInput), results
    assert [position for position, _ in positions(gig)] == [1, 2, 3, 4, 5, 6]
    assert len(stored_files(media)) == 2  # the winner's two sizes; the loser's were deleted


@pytest.mark.django_db(transaction=True)
def test_a_move_and_a_removal_at_once_leave_positions_contiguous(seller, media):
    from tests.concurrency import run_together

    gig = GigFactory(seller=seller)
    images = [GigImageFactory(gig=gig, position=number + 1, alt_text=f"Image {number + 1}") for number in range(4)]

    results = run_together(
        lambda: gig_image_move(gig=gig, seller=seller, image_id=images[3].pk, to_position=1),
        lambda: gig_image_remove(gig=gig, seller=seller, image_id=images[0].pk),
    )

    assert not any(isinstance(result, Exception) for result in results), results
    assert positions(gig) == [(1, "Image 4"), (2, "Image 2"), (3, "Image 3")]


# --- the seller's own data ------------------------------------------------------------------------


def test_deleting_the_account_erases_the_gigs_images_and_their_files(
    gig, media, other_gig_with_an_image, django_capture_on_commit_callbacks
):
    from privacy.services import account_delete

    add(gig, alt="Me at my desk")
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=gig.seller, password="correct-horse-battery")
    assert list(GigImage.objects.values_list("alt_text", flat=True)) == ["Someone else's"]
    assert len(stored_files(media)) == 2  # the other seller's two sizes


@pytest.fixture
def other_gig_with_an_image(outsider) -> GigImage:
    return add(GigFactory(seller=outsider), alt="Someone else's")


def test_the_data_export_holds_the_gigs_images(gig):
    import json
    import zipfile

    from privacy.export import user_data_zip

    image = add(gig, alt="Logo sketches")
    with zipfile.ZipFile(user_data_zip(gig.seller)) as archive:
        rows = json.loads(archive.read("gig_images.json"))
        stored = archive.read(f"files/gig-images/{image.pk}-{image.image.name.rsplit('/', 1)[-1]}")
    assert [(row["alt_text"], row["position"]) for row in rows] == [("Logo sketches", 1)]
    assert Image.open(io.BytesIO(stored)).size == (640, 480)
