"""The production topology under fire (``make cluster``, deploy/cluster.py): nginx with TLS in front of
two gunicorn webs, two workers and beat, S3 on moto. A buyer and a seller take a milestone from funding
to approval through the proxy while readers hammer it; one web, one worker and beat are SIGKILLed
mid-run and started again. No request fails but those in flight on the killed web, nothing is lost,
the ledger audits clean and the sweeps resume (the earning clears after beat is back)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.utils import timezone

from accounts.models import WithdrawalMethod
from deploy.cluster import Cluster
from marketplace.models import Heartbeat
from milestones.models import Milestone
from milestones.models import MilestoneState as S
from payments.audit import ledger_audit
from payments.models import Earning, EarningStatus
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory
from tests.forms import find_form

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
KILLED = ("web1", "worker1", "beat")


@pytest.fixture
def cluster(broker, tmp_path) -> Cluster:
    if shutil.which("nginx") is None:
        # `make test` checks this first (scripts/check_services.py); pytest run alone says it here.
        reason = "nginx is not installed; the production topology's test needs it (apt-get install -y nginx-light)."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    running = Cluster(
        tmp_path / "cluster",
        database_url=url,
        redis_url=broker.url,
        # The earning falls due while beat is down (killed before the approval): only the
        # restarted beat's sweep can clear it.
        extra_env={"SWEEP_INTERVAL_SECONDS": "2", "CLEARANCE_PAYPAL": "5s"},
    )
    try:
        running.start()
        yield running
    finally:
        # Every process told to stop at once, not one after the other (nothing here is kept).
        with ThreadPoolExecutor(len(running.processes) or 1) as pool:
            list(pool.map(lambda process: process.stop(), running.processes.values()))


class Visitor:
    def __init__(self, cluster: Cluster, user):
        self.base = cluster.url
        self.http = requests.Session()
        self.http.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
        self.http.verify = str(cluster.cert)
        page = self.http.get(f"{self.base}/accounts/login/")
        form = find_form(page.text, button="Log in", url=page.url)
        assert form, page.text[:500]
        done = self.post(form.action, {**form.fields, "login": user.username, "password": PASSWORD})
        assert "/accounts/login/" not in done.url, "logged in"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}{path}"

    def post(self, action: str, data: dict, **kwargs) -> requests.Response:
        response = self.http.post(self.url(action), data=data, headers={"Referer": self.base + "/"}, **kwargs)
        assert response.status_code < 400, f"{action}: {response.status_code}\n{response.text[:800]}"
        return response

    def act(self, page_path: str, action: str, *, button: str = "", **data) -> requests.Response:
        """Press the action's button on the page; if it leads to a page with a form of its own
        (a confirmation, the submission form), fill that and send it."""
        page = self.http.get(self.url(page_path))
        form = find_form(page.text, action=action, button=button, url=page.url)
        if form is None or form.method == "get":
            page = self.http.get(self.url(action))
            form = find_form(page.text, action=action, url=page.url)
        assert form is not None, f"no form for {action} on {page.url}"
        return self.post(form.action, {**form.fields, **data})


def _milestone_of(order) -> Milestone:
    return Milestone.objects.filter(order=order).order_by("-pk").first()


class Readers:
    """Two threads reading pages through the proxy all along, counting what failed and when."""

    def __init__(self, visitor: Visitor, paths: list[str]):
        self.visitor, self.paths = visitor, paths
        self.done = 0
        self.failures: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self):
        session = requests.Session()
        session.trust_env = False
        session.verify = self.visitor.http.verify
        session.cookies.update(self.visitor.http.cookies)
        n = 0
        while not self._stop.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            try:
                response = session.get(self.visitor.url(path), timeout=30)
                if response.status_code >= 500:
                    self.failures.append((time.monotonic(), f"{path}: {response.status_code}"))
            except requests.RequestException as error:
                self.failures.append((time.monotonic(), f"{path}: {error.__class__.__name__}"))
            self.done += 1

    def wait_for(self, reads: int, what: str) -> None:
        """Until the readers have made ``reads`` more requests (each one waits for its answer)."""
        target = self.done + reads
        wait_until(lambda: self.done >= target, timeout=60, interval=0.05, what=what)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def _with_production_password(user):
    """The cluster runs the production hashers (the tests' MD5 is not among them)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def test_the_lifecycle_through_nginx_survives_killing_a_web_a_worker_and_beat(cluster, capsys):
    seller = _with_production_password(
        UserFactory(username="cluster_seller", withdrawal_method=WithdrawalMethod.PAYPAL)
    )
    buyer_user = _with_production_password(UserFactory(username="cluster_buyer"))
    order = OrderFactory(buyer=buyer_user, seller=seller, title="Shop")
    buyer, seller_visit = Visitor(cluster, order.buyer), Visitor(cluster, seller)
    order_path = order.get_absolute_url()

    # The buyer creates a milestone and pays on the provider's page; the webhook comes back through nginx.
    deadline = timezone.localtime(timezone.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    created = buyer.act(
        order_path,
        f"{order_path}milestones/new/",
        title="Wireframes",
        description="Every screen.",
        deadline=deadline,
        amount="300.00",
    )
    pay = find_form(created.text, button="Pay by card", url=created.url)
    assert pay, created.text[:800]
    checkout = buyer.post(pay.action, pay.fields)
    assert "/sandbox/checkout/" in checkout.url
    card = find_form(checkout.text, button="Pay", url=checkout.url)
    assert card
    buyer.post(card.action, {**card.fields, "card_number": "4242 4242 4242 4242"})
    milestone = _milestone_of(order)
    wait_until(
        lambda: Milestone.objects.get(pk=milestone.pk).state == S.AWAITING_ACCEPTANCE, timeout=60, what="funding"
    )

    # The seller accepts and delivers a file (to S3).
    seller_visit.act(order_path, f"/milestones/{milestone.pk}/accept/", button="Accept")
    submit_page = seller_visit.http.get(seller_visit.url(f"/milestones/{milestone.pk}/submit/"))
    submit = find_form(submit_page.text, action=f"/milestones/{milestone.pk}/submit/", url=submit_page.url) or (
        find_form(seller_visit.http.get(seller_visit.url(order_path)).text, action="/submit/", url=order_path)
    )
    assert submit
    seller_visit.post(
        submit.action,
        {**submit.fields, "message": "Attached."},
        files={"files": ("wireframes.txt", b"home, cart\n", "text/plain")},
    )
    assert Milestone.objects.get(pk=milestone.pk).state == S.IN_REVIEW

    # Readers all along; kill web1, worker1 and beat; the buyer approves while they are down.
    paths = [order_path, "/", "/dashboard/buying/", "/notifications/"]
    with Readers(buyer, paths) as readers:
        readers.wait_for(20, "reads before the kill")
        killed_at = time.monotonic()
        for name in KILLED:
            cluster.processes[name].kill()
        readers.wait_for(20, "reads after the kill")
        buyer.act(order_path, f"/milestones/{milestone.pk}/approve/", button="Approve")
        assert Milestone.objects.get(pk=milestone.pk).state == S.APPROVED
        readers.wait_for(20, "reads while web1, worker1 and beat are down")
        # All three at once, as a supervisor would restart them.
        with ThreadPoolExecutor(3) as pool:
            recover = dict(zip(KILLED, pool.map(cluster.restart, KILLED), strict=True))
        readers.wait_for(20, "reads after the restart")
    beat_back = time.monotonic()
    wait_until(
        lambda: (Heartbeat.last("beat") or timezone.now() - timedelta(days=1)) > timezone.now() - timedelta(seconds=15),
        timeout=60,
        what="beat's heartbeat",
    )
    earning = Earning.objects.get(milestone=milestone)
    wait_until(lambda: Earning.objects.get(pk=earning.pk).status == EarningStatus.CLEARED, timeout=90, what="clearance")
    cleared_after = time.monotonic() - beat_back

    report = ledger_audit()
    assert report.ok, report.summary()
    late = [f for f in readers.failures if f[0] > killed_at + 2]
    assert readers.done > 20, "the readers kept reading"
    assert not late, f"requests failed after the kill settled: {late}"
    with capsys.disabled():
        print(
            f"\ncluster: {readers.done} reads through nginx, {len(readers.failures)} failed at the kill "
            f"({[f[1] for f in readers.failures]}); back in {', '.join(f'{k} {v:.1f}s' for k, v in recover.items())}; "
            f"the earning cleared {cleared_after:.1f}s after beat came back"
        )
    assert Path(cluster.processes["web2"].log).read_text().count('"gunicorn.access"') > 0
