"""A payout card and an IBAN typed whole on the profile are nowhere in the database afterwards, nor in
the logs (issue 32, item 5): the test types them, withdraws, lets the payouts run, downloads the
user's data, then greps a ``pg_dump`` of the test database and everything logged.

Regression: before the fix ``pg_dump`` held the card in ``marketplace_user.payout_account``,
``payments_withdrawal.destination``, ``payments_providercommand.destination`` and
``sandbox_sandboxoperation.target``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from milestones.models import MilestoneState as S
from payments.models import ProviderCommand
from payments.outbox import command_execute
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery"
CARD = "4000 0566 5566 5556"
IBAN = "GB82 WEST 1234 5698 7654 32"
# Each as typed and as its characters alone: neither may be anywhere.
SECRETS = [CARD, CARD.replace(" ", ""), IBAN, IBAN.replace(" ", "")]


def _pg_dump() -> str:
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = ["pg_dump", "--data-only", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
    command += ["-U", db["USER"], db["NAME"]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _type_payout_account(client: Client, method: str, number: str) -> None:
    data = {"bio": "", "withdrawal_method": method, "payout_account": number, "current_password": PASSWORD}
    assert client.post(reverse("profile"), data).status_code == 302


def _withdraw(client: Client, amount: str) -> None:
    html = client.get(reverse("earnings")).content.decode()
    key = re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)
    assert client.post(reverse("withdraw"), {"amount": amount, "currency": "USD", "key": key}).status_code == 302


def test_a_payout_number_typed_whole_is_in_no_dump_and_no_log(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    seller = UserFactory(withdrawal_method="instant")
    buyer = UserFactory()
    milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")  # 80.00 available
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer, seller=seller), amount="100.00")  # 105.50 refunded

    sellers, buyers = Client(), Client()
    sellers.force_login(seller)
    buyers.force_login(buyer)
    _type_payout_account(sellers, "instant", CARD)
    _type_payout_account(buyers, "bank_transfer", IBAN)
    _withdraw(sellers, "80.00")
    _withdraw(buyers, "105.50")
    for command in ProviderCommand.objects.filter(kind="payout"):
        assert command_execute(command_id=command.pk).outcome == "succeeded"
    for client in (sellers, buyers):
        assert client.post(reverse("data_download")).status_code == 200
        assert client.get(reverse("earnings_export")).status_code == 200

    dump = _pg_dump()
    assert "•••• 5556" in dump and "•••• 5432" in dump, "the masks are what is kept"
    logged = caplog.text + "".join(capsys.readouterr())
    assert "payments.tasks.execute_command" in logged, "the withdrawals were logged"
    for secret in SECRETS:
        assert secret not in dump, f"{secret!r} is in the database dump"
        assert secret not in logged, f"{secret!r} was logged"
