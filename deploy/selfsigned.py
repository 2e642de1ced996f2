"""A self-signed certificate for the proxy's first start: ``python -m deploy.selfsigned FOLDER [HOST ...]``.

Writes FOLDER/cert.pem and FOLDER/key.pem unless they exist (an operator's real
certificate, or Let's Encrypt's, put there instead is never overwritten).
Browsers warn about it: it is for the first run and for `make cluster`, not
for the public.
"""

from __future__ import annotations

import ipaddress
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def write(folder: Path, hosts: list[str]) -> bool:
    """True if it wrote a new pair; False if one was already there."""
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key_file.exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([_name(host) for host in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "certs")
    names = sys.argv[2:] or ["localhost", "127.0.0.1"]
    print(("wrote" if write(target, names) else "kept the existing") + f" certificate in {target}")
