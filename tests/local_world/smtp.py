"""A real SMTP server (aiosmtpd) on 127.0.0.1 with STARTTLS and login, and its fixture."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

USERNAME, PASSWORD = "alex", "local-smtp-password"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for 127.0.0.1; the cert is also the CA file a client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


@dataclass
class RecordingHandler:
    """Records every envelope; `drop_after_data` accepts the next message, then cuts the line;
    `busy_next` answers that many RCPT TO with 451 (try again later)."""

    deliveries: list[Delivery] = field(default_factory=list)
    drop_after_data: int = 0
    busy_next: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        if self.busy_next:
            self.busy_next -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.deliveries.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        if self.drop_after_data:
            self.drop_after_data -= 1
            server.transport.close()
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


@dataclass
class LocalSmtp:
    host: str
    port: int
    ca_file: Path
    handler: RecordingHandler


@contextmanager
def local_smtp(folder: Path) -> Iterator[LocalSmtp]:
    """The SMTP server on a free loopback port (its certificate in folder), for fixtures and benchmarks."""
    cert_file, key_file = self_signed_certificate(folder)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    handler = RecordingHandler()
    port = free_port()  # port 0 fails: the controller connects back to the port it was given
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield LocalSmtp("127.0.0.1", port, cert_file, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[LocalSmtp]:
    with local_smtp(tmp_path) as server:
        yield server
