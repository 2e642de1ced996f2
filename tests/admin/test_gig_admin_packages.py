"""Staff read a gig's packages, steps, extras and requirement questions on the gig's admin page
(issue 35); they are the seller's to edit, so the page shows them read-only, and saving the gig
as the page sends it leaves them as they were."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gigs.models import GigPackage, PackageStep
from tests.forms import forms
from tests.pages import PACKAGES

pytestmark = pytest.mark.django_db


def test_staff_read_the_packages_on_the_gig_page_and_a_save_keeps_them(staff_client, seller):
    from gigs.services import gig_create

    gig = gig_create(seller=seller, title="Brand identity", description="Phase by phase.", packages=PACKAGES)
    before = list(PackageStep.objects.values_list("package__name", "position", "title", "price", "days"))
    url = reverse("admin:gigs_gig_change", args=[gig.pk])
    html = staff_client.get(url).content.decode()
    for shown in ("Standard", "The whole identity.", "2. Logo concepts (200.00", "Social media kit", "Which style?"):
        assert shown in html, shown
    form = next(form for form in forms(html) if "packages-TOTAL_FORMS" in form.fields)
    response = staff_client.post(url, {**form.fields, "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert list(PackageStep.objects.values_list("package__name", "position", "title", "price", "days")) == before
    assert GigPackage.objects.filter(gig=gig).count() == 2
