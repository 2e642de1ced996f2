from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

# Fixtures of the whole run: one Chromium for tests/browser and tests/admin (Django's async guard
# kept everywhere else), and the test database cloned from a migrated template.
from tests import fast_flush
from tests.backends import backend  # noqa: F401 - runs a test on PostgreSQL and on SQLite (tests.backends)
from tests.chromium import _chromium, _event_loop_only_in_browser_tests, browser  # noqa: F401
from tests.factories import OrderFactory, StaffFactory, UserFactory
from tests.template_db import django_db_setup  # noqa: F401

# Transactional tests end with DELETE instead of TRUNCATE (tests/fast_flush.py).
fast_flush.install()


def pytest_configure(config) -> None:
    """The translations compiled before any page renders (``make run`` and the image do the same)."""
    from marketplace.i18n import compile_catalogues

    compile_catalogues()


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts and ends in the default language: a request through the test client
    activates its reader's language in this thread (as a web worker's would for its request), and a
    service called next must not write its words in it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def buyer(db):
    return UserFactory(username="alice_buyer")


@pytest.fixture
def seller(db):
    return UserFactory(username="bob_seller")


@pytest.fixture
def outsider(db):
    return UserFactory(username="eve_outsider")


@pytest.fixture
def staff(db):
    return StaffFactory(username="sam_staff")


@pytest.fixture
def order(buyer, seller):
    return OrderFactory(buyer=buyer, seller=seller)


@pytest.fixture
def audit():
    """Call after a scenario: fails the test with the breaches if the ledger is wrong."""
    from payments.audit import ledger_audit

    def check():
        report = ledger_audit()
        assert report.ok, report.summary()
        return report

    return check


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """allauth counts logins, sign-ups and reset e-mails per address in the
    cache, and the order page keeps its rendered parts in another; one test's
    must not spill into the next one's."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()
    yield


@pytest.fixture
def admin_user(db):
    """pytest-django's ``admin_client`` logs this one in: a superuser enrolled
    in two-factor, as the admin requires of staff."""
    return StaffFactory(username="admin", email="admin@example.com")


@pytest.fixture
def admin_client(admin_user):
    """pytest-django's ``admin_client``, logged in as staff are: password and the authenticator's code."""
    from django.test import Client

    from tests.factories import staff_login

    return staff_login(Client(), admin_user)
