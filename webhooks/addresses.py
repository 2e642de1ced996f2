"""Whether a webhook URL may be posted to, and a connection to the very address that was checked.

A URL is checked when its endpoint is saved and again at every delivery (DNS may have changed
since): every address its host resolves to must be public, and the delivery connects to the
address it checked, never resolving again in between (no DNS rebinding). ``WEBHOOKS_ALLOW_PRIVATE``
lets development and tests post to a receiver on 127.0.0.1, over http too.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from marketplace.errors import InvalidInput

# Ranges never reached in production, beyond what ``ipaddress`` calls private, loopback,
# link-local, reserved or multicast (which cover 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16,
# 0/8, ::1, fc00::/7, fe80::/10); listed so a reader sees them and a change to Python does not widen them.
REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1 and the like reach the IPv4 address they carry.
        carried = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if carried is not None and not is_public(str(carried)):
            return False
    if any(ip in net for net in REFUSED_NETWORKS if net.version == ip.version):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def url_target(url: str) -> Target:
    """Check ``url`` as the rules above say and return where to connect; ``InvalidInput`` on the
    ``url`` field names what is wrong."""
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput(_("Enter a valid URL."), field="url") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise InvalidInput(_("The URL must start with https://."), field="url")
    if not parts.hostname:
        raise InvalidInput(_("Enter a valid URL."), field="url")
    if parts.username or parts.password:
        raise InvalidInput(_("Leave the user name and password out of the URL."), field="url")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(_("The host {host} could not be found.").format(host=parts.hostname), field="url") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise InvalidInput(_("The host {host} could not be found.").format(host=parts.hostname), field="url")
    if not allow_private and not all(is_public(a) for a in addresses):
        raise InvalidInput(
            _("The URL must point to a public address: private, loopback and link-local addresses are refused."),
            field="url",
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, the certificate verified against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST ``body`` to the checked address; the response's status code. Redirects are not
    followed (``http.client`` never does): a 3xx is a failed delivery."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout)
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()
