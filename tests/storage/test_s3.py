"""Deliverables and dispute files on S3-compatible storage.

moto's real HTTP server stands in for the bucket (S3, MinIO): the app stores
through django-storages over HTTP, and a download is a 302, after the
permission check, to a presigned URL that this test then fetches like a
browser would. The storage settings are the ones ``marketplace/settings.py``
builds from the environment, read here by running that file with the
environment an operator would set. The last test runs two gunicorn processes
that share no disk, only the database and the bucket: what one stores, the
other serves.
"""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer

from deploy.processes import stop_processes
from marketplace.storage import is_s3
from milestones.models import DeliveryFile, DisputeStatement, MilestoneState
from tests.factories import OrderFactory, UserFactory, milestone_in, staff_login

S = MilestoneState
pytestmark = pytest.mark.s3

REPO = Path(__file__).resolve().parents[2]
SETTINGS_FILE = REPO / "marketplace" / "settings.py"
BUCKET = "marketplace-files"
REGION = "us-east-1"
ACCESS_KEY = "moto-access-key"
SECRET_KEY = "moto-secret-key"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Bucket:
    """The moto server's one bucket, seen from outside the app."""

    endpoint: str
    client: Any

    def environment(self) -> dict[str, str]:
        """What an operator sets to put the app's files in this bucket."""
        return {
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def empty(self) -> None:
        for key in self.keys():
            self.client.delete_object(Bucket=BUCKET, Key=key)


@pytest.fixture(scope="session")
def moto_bucket() -> Iterator[Bucket]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET)
    yield Bucket(endpoint=endpoint, client=client)
    server.stop()


# Every variable settings.py reads for the storage.
S3_VARIABLES = (
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_QUERYSTRING_EXPIRE",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_S3_SIGNATURE_VERSION",
)


def settings_under(environment: dict[str, str]) -> dict[str, Any]:
    """The names marketplace/settings.py defines when run with exactly these storage variables set."""
    with mock.patch.dict(os.environ, environment):
        for name in S3_VARIABLES:
            if name not in environment:
                os.environ.pop(name, None)
        return runpy.run_path(str(SETTINGS_FILE))


@pytest.fixture
def bucket(moto_bucket, settings, tmp_path) -> Iterator[Bucket]:
    """The default storage is the bucket, as settings.py configures it from the environment; MEDIA_ROOT is empty."""
    settings.MEDIA_ROOT = tmp_path / "media"
    moto_bucket.empty()
    default = settings_under(moto_bucket.environment())["STORAGES"]["default"]
    # Django drops its cached storages when STORAGES changes (the
    # setting_changed receiver in django.test.signals), on entry and on exit.
    with override_settings(STORAGES={**settings.STORAGES, "default": default}):
        assert is_s3(default_storage)
        yield moto_bucket
    assert not is_s3(default_storage)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def submit(client, milestone, files):
    client.force_login(milestone.order.seller)
    return client.post(reverse("milestone_submit", args=[milestone.pk]), {"message": "See files", "files": files})


def fetch(url: str) -> tuple[bytes, Any]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read(), answer.headers


# --- the settings -------------------------------------------------------------------------------


def test_without_a_bucket_files_stay_in_the_local_folder():
    storages = settings_under({"AWS_STORAGE_BUCKET_NAME": ""})["STORAGES"]
    assert storages["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_a_bucket_makes_s3_the_default_storage_private_and_presigned():
    environment = {
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": "http://minio:9000",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    default = settings_under(environment)["STORAGES"]["default"]
    assert default == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": "http://minio:9000",
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": 60,
            "signature_version": "s3v4",
            "addressing_style": "path",
        },
    }


def test_on_aws_itself_boto3_finds_endpoint_keys_and_addressing():
    environment = {"AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_REGION_NAME": "eu-west-1", "AWS_QUERYSTRING_EXPIRE": "30"}
    options = settings_under(environment)["STORAGES"]["default"]["OPTIONS"]
    assert options["region_name"] == "eu-west-1" and options["querystring_expire"] == 30
    for left_to_boto3 in ("endpoint_url", "access_key", "secret_key", "addressing_style"):
        assert left_to_boto3 not in options


# --- one process, the real views ------------------------------------------------------------------


def test_an_upload_is_stored_in_the_bucket_and_nothing_on_disk(client, order, bucket, settings):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    response = submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n")])
    assert response.status_code == 302
    item = DeliveryFile.objects.get()
    assert item.file.name.startswith(f"deliverables/{order.pk}/") and item.file.name.endswith(".txt")
    assert bucket.keys() == [item.file.name]
    assert bucket.read(item.file.name) == b"the report\n"
    assert files_under(settings.MEDIA_ROOT) == []


def test_the_parties_download_through_a_short_lived_presigned_url(client, order, staff, bucket):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x02\x00\x00\x00" + b"\x00" * 64
    submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n"), SimpleUploadedFile("shot.png", png)])
    for item in DeliveryFile.objects.all():
        url = reverse("deliverable_download", args=[item.pk])
        for user in (order.buyer, order.seller, staff):
            staff_login(client, user)
            response = client.get(url)
            assert response.status_code == 302
            assert response["Cache-Control"] == "private, no-store"
            assert response["Referrer-Policy"] == "no-referrer"
            location = response["Location"]
            parts = urlsplit(location)
            assert f"{parts.scheme}://{parts.netloc}" == bucket.endpoint
            assert parts.path == f"/{BUCKET}/{item.file.name}"
            query = parse_qs(parts.query)
            assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
            assert query["X-Amz-Expires"] == ["60"] and query["X-Amz-Signature"][0]
            assert query["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/")

            body, headers = fetch(location)
            assert body == bucket.read(item.file.name)
            assert headers["Content-Disposition"] == f'attachment; filename="{item.original_name}"'
            assert headers["Content-Type"] == item.content_type
    assert {i.original_name: bucket.read(i.file.name) for i in DeliveryFile.objects.all()} == {
        "report.txt": b"the report\n",
        "shot.png": png,
    }


def test_a_name_outside_ascii_survives_the_redirect(client, order, bucket):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    submit(client, milestone, [SimpleUploadedFile("résumé final.txt", b"cv\n")])
    item = DeliveryFile.objects.get()
    client.force_login(order.buyer)
    body, headers = fetch(client.get(reverse("deliverable_download", args=[item.pk]))["Location"])
    assert body == b"cv\n"
    assert headers["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20final.txt"


def test_an_outsider_gets_404_and_never_a_url(client, order, outsider, bucket):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n")])
    item = DeliveryFile.objects.get()
    url = reverse("deliverable_download", args=[item.pk])
    client.force_login(outsider)
    response = client.get(url)
    assert response.status_code == 404
    assert "Location" not in response and BUCKET.encode() not in response.content
    assert client.post(url).status_code == 405
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert bucket.endpoint not in response["Location"]


def test_a_dispute_file_is_in_the_bucket_and_downloads_the_same_way(client, order, outsider, bucket):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    client.force_login(order.buyer)
    response = client.post(
        reverse("milestone_dispute", args=[milestone.pk]),
        {"reason": "Nothing delivered", "attachment": SimpleUploadedFile("chat.txt", b"the chat log\n")},
    )
    assert response.status_code == 302
    statement = DisputeStatement.objects.get()
    assert bucket.keys() == [statement.attachment.name]
    url = reverse("dispute_attachment", args=[statement.pk])
    client.force_login(order.seller)
    response = client.get(url)
    assert response.status_code == 302
    body, headers = fetch(response["Location"])
    assert body == b"the chat log\n"
    assert headers["Content-Disposition"] == 'attachment; filename="chat.txt"'
    assert headers["Content-Type"] == "application/octet-stream"
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_with_local_storage_the_download_still_streams(client, order, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    assert not is_s3(default_storage)
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n")])
    item = DeliveryFile.objects.get()
    assert files_under(settings.MEDIA_ROOT) == [settings.MEDIA_ROOT / item.file.name]
    client.force_login(order.buyer)
    response = client.get(reverse("deliverable_download", args=[item.pk]))
    assert response.status_code == 200 and "Location" not in response
    assert response["Content-Disposition"] == 'attachment; filename="report.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"the report\n"


def test_with_local_storage_a_lost_file_is_404(client, order, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    submit(client, milestone, [SimpleUploadedFile("report.txt", b"the report\n")])
    item = DeliveryFile.objects.get()
    (settings.MEDIA_ROOT / item.file.name).unlink()
    client.force_login(order.buyer)
    assert client.get(reverse("deliverable_download", args=[item.pk])).status_code == 404


# --- two app processes that share no disk ---------------------------------------------------------


@dataclass
class AppProcess:
    """One gunicorn serving the app, with its own DATA_DIR (so its own MEDIA_ROOT)."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log: Path

    def session_as(self, username: str) -> requests.Session:
        session = requests.Session()
        login = f"{self.url}{reverse('login')}"
        session.get(login, timeout=10).raise_for_status()
        response = session.post(
            login,
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, self.failure(response)
        return session

    def failure(self, response: requests.Response) -> str:
        return f"{response.status_code} {response.text[-2000:]}\n--- {self.log} ---\n{self.log.read_text()[-4000:]}"

    def media(self) -> list[Path]:
        return files_under(self.data_dir / "media")


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.fixture
def app_processes(transactional_db, moto_bucket, tmp_path) -> Iterator[Callable[[str], AppProcess]]:
    """Start gunicorns against the test database (its rows must be committed) and the bucket."""
    started: list[AppProcess] = []

    def start(name: str) -> AppProcess:
        port = free_port()
        data_dir = tmp_path / name
        data_dir.mkdir()
        log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            **moto_bucket.environment(),
            "DJANGO_SETTINGS_MODULE": "marketplace.settings_test",
            "DATABASE_URL": _database_url(),
            "DATA_DIR": str(data_dir),
            "MEDIA_ROOT": str(data_dir / "media"),
            # A port nobody listens on: what the services publish after commit
            # fails at once and lands on no shared Redis.
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "marketplace.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                cwd=REPO,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        app = AppProcess(url=f"http://127.0.0.1:{port}", data_dir=data_dir, process=process, log=log)
        started.append(app)
        wait_until(lambda: process.poll() is not None or _answers(f"{app.url}/healthz"), timeout=60, what=name)
        assert process.poll() is None, log.read_text()
        return app

    yield start
    stop_processes([app.process for app in started], wait=10)


def test_a_file_uploaded_on_one_process_downloads_from_another_sharing_no_disk(app_processes, moto_bucket):
    moto_bucket.empty()
    order = OrderFactory(buyer=UserFactory(username="alice_buyer"), seller=UserFactory(username="bob_seller"))
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    a, b = app_processes("a"), app_processes("b")
    content = b"%PDF-1.4\n" + os.urandom(4096) + b"\n%%EOF\n"

    seller = a.session_as("bob_seller")
    form = f"{a.url}{reverse('milestone_submit', args=[milestone.pk])}"
    seller.get(form, timeout=10).raise_for_status()
    token = seller.cookies["csrftoken"]
    response = seller.post(
        form,
        data={"message": "Here it is", "csrfmiddlewaretoken": token},
        files={"files": ("spec.pdf", content, "application/pdf")},
        headers={"X-CSRFToken": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, a.failure(response)
    item = DeliveryFile.objects.get(delivery__milestone=milestone)
    assert moto_bucket.keys() == [item.file.name]
    assert a.media() == []

    buyer = b.session_as("alice_buyer")
    download = f"{b.url}{reverse('deliverable_download', args=[item.pk])}"
    redirect = buyer.get(download, allow_redirects=False, timeout=10)
    assert redirect.status_code == 302, b.failure(redirect)
    assert redirect.headers["Location"].startswith(f"{moto_bucket.endpoint}/{BUCKET}/")
    got = buyer.get(redirect.headers["Location"], timeout=10)
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["Content-Disposition"] == 'attachment; filename="spec.pdf"'
    assert got.headers["Content-Type"] == "application/pdf"
    assert b.media() == [] and a.media() == []

    # Someone else logged in on B is refused there as on A.
    UserFactory(username="eve_outsider")
    eve = b.session_as("eve_outsider")
    refused = eve.get(download, allow_redirects=False, timeout=10)
    assert refused.status_code == 404 and "Location" not in refused.headers
