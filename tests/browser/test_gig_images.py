"""Gig images in Chromium, driven by the labels: the seller opens "Images" from the gig page,
uploads two pictures with their "Image description", makes the second the cover; a buyer sees it
on the card and in the gallery. The pages pass axe and do not shift on a phone as images load."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from gigs.models import GigImage
from tests.browser.conftest import log_in
from tests.browser.test_accessibility import AXE, RULES
from tests.browser.test_layout_shift import OBSERVE_SHIFTS, PHONE
from tests.factories import GigFactory, UserFactory
from tests.images import picture_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_violations(page) -> list[str]:
    page.evaluate(AXE)
    result = page.evaluate("options => axe.run(document, options)", RULES)
    return [f"{page.url}: {v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]]


def images_loaded(page) -> list[int]:
    return page.eval_on_selector_all("main img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : -1)")


def test_a_seller_adds_images_and_a_buyer_sees_the_cover_and_the_gallery(browser, live_server, tmp_path):
    seller = UserFactory(username="ivy_seller")
    buyer = UserFactory(username="ike_buyer")
    gig = GigFactory(seller=seller, title="I will design your logo")
    with override_settings(MEDIA_ROOT=tmp_path):
        context = browser.new_context(base_url=live_server.url, bypass_csp=True)
        context.set_default_timeout(10_000)
        try:
            page = context.new_page()
            log_in(page, seller)
            page.goto(gig.get_absolute_url())
            page.get_by_role("link", name="Images", exact=True).click()
            page.wait_for_url(f"**/gigs/{gig.pk}/images/")
            assert not axe_violations(page)

            # Nothing chosen and no description: both errors at once, next to their fields.
            page.get_by_role("button", name="Add image").click()
            page.get_by_text("Choose an image to upload.").wait_for()
            page.get_by_text("Describe the image for people who cannot see it.").first.wait_for()

            for name, fmt, alt in (("sketch.png", "PNG", "Pencil sketches"), ("final.jpg", "JPEG", "The final logo")):
                mime = "image/png" if fmt == "PNG" else "image/jpeg"
                page.get_by_label("Image", exact=True).set_input_files(
                    {"name": name, "mimeType": mime, "buffer": picture_bytes(fmt, (1600, 1200))}
                )
                page.get_by_label("Image description").last.fill(alt)
                page.get_by_role("button", name="Add image").click()
                page.get_by_text("The image is added.").wait_for()
            page.get_by_role("button", name="Move up").click()
            page.get_by_text("The image is now the cover.").wait_for()
            assert list(GigImage.objects.filter(gig=gig).values_list("alt_text", flat=True)) == [
                "The final logo",
                "Pencil sketches",
            ]
            assert all(width > 0 for width in images_loaded(page))
            assert not axe_violations(page)

            buyer_page = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            log_in(buyer_page, buyer)
            buyer_page.goto("/")
            cover = buyer_page.get_by_role("img", name="The final logo")
            cover.wait_for()
            assert cover.evaluate("img => img.complete && img.naturalWidth") == 400
            assert not axe_violations(buyer_page)
            buyer_page.goto(gig.get_absolute_url())
            gallery = buyer_page.locator(".gig-gallery img")
            assert gallery.count() == 2
            assert gallery.first.get_attribute("alt") == "The final logo"
            assert gallery.first.evaluate("img => img.complete && img.naturalWidth") == 1200
            assert buyer_page.get_by_role("link", name="Images", exact=True).count() == 0
            assert not axe_violations(buyer_page)
            buyer_page.context.close()
        finally:
            context.close()


def test_the_gig_page_and_the_list_do_not_shift_on_a_phone_as_images_load(browser, live_server, tmp_path):
    from gigs.images import gig_image_add
    from tests.images import upload

    gig = GigFactory(title="I will design your logo")
    GigFactory(title="A gig without images")
    with override_settings(MEDIA_ROOT=tmp_path):
        for alt in ("Cover sketch", "Second sketch", "Third sketch"):
            gig_image_add(gig=gig, seller=gig.seller, upload=upload(picture_bytes("JPEG", (1200, 900))), alt_text=alt)
        context = browser.new_context(base_url=live_server.url, **PHONE)
        context.set_default_timeout(10_000)
        context.add_init_script(OBSERVE_SHIFTS)
        try:
            page = context.new_page()

            # Images arrive late, as on a phone's network: the space they take is reserved before.
            def slow_image(route):
                time.sleep(0.3)
                route.continue_()

            page.route("**/*.webp", slow_image)
            for url in ("/", gig.get_absolute_url()):
                page.goto(url)
                page.wait_for_load_state("load")
                page.mouse.wheel(0, 2000)
                page.wait_for_function("() => [...document.images].every(i => i.complete)")
                shift = page.evaluate("() => window.__shifts.reduce((a, b) => a + b, 0)")
                assert shift < 0.05, (url, shift)
        finally:
            context.close()
