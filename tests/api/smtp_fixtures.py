"""A real mail server for API tests: aiosmtpd on loopback, STARTTLS under a throwaway CA, and AUTH.

`make_pki` builds the CA and a certificate for 127.0.0.1; `smtp_server` runs the server for as long
as its `with` block lasts and always stops it. Mail is handed over synchronously (the server has
kept it by the time the sender's DATA command is answered), so nothing needs polling afterwards.
"""

from __future__ import annotations

import contextlib
import email
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import free_port, wait_until

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret"
HOST = "127.0.0.1"


# --- a throwaway PKI -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # give this to the service as SMTP_CA_FILE
    server: ssl.SSLContext  # a certificate for 127.0.0.1 signed by that CA


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_pki(folder: Path) -> Pki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Second Factor Test CA"))
        .issuer_name(_name("Second Factor Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.crt", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return Pki(ca_file=ca_file, server=context)


# --- the server ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool  # the session was encrypted when the mail came
    login: str | None  # the user the session authenticated as

    @property
    def text(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")

    def code(self) -> str:
        """The one 6-digit code in the body; fails when there is none or more than one."""
        codes = re.findall(r"(?<!\d)\d{6}(?!\d)", self.text)
        assert len(codes) == 1, self.text
        return codes[0]


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every mail it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        auth = session.auth_data
        self.received.append(
            Received(
                rcpt_tos=list(envelope.rcpt_tos),
                message=cast(EmailMessage, email.message_from_bytes(content, policy=policy.default)),
                tls=server.transport is not None and server.transport.get_extra_info("ssl_object") is not None,
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 OK"

    def authenticator(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any):
        if isinstance(auth_data, LoginPassword) and auth_data == (SMTP_USER.encode(), SMTP_PASSWORD.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers 535 itself (the default sends no reply at all).
        return AuthResult(success=False, handled=False)

    def to(self, address: str) -> list[Received]:
        return [mail for mail in self.received if mail.rcpt_tos == [address]]


@dataclass(frozen=True)
class SmtpServer:
    port: int
    mailbox: Mailbox

    @property
    def url(self) -> str:
        """An SMTP_URL with the credentials the server accepts."""
        return f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@{HOST}:{self.port}"


def _accepts_connections(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


@contextlib.contextmanager
def smtp_server(pki: Pki) -> Iterator[SmtpServer]:
    """Run a server that requires STARTTLS before AUTH, and AUTH before mail; stop it on the way out."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname=HOST,
        port=port,
        server_hostname="mail.test",
        tls_context=pki.server,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticator,
    )
    controller.start()
    try:
        wait_until(_accepts_connections(port), timeout=10, what="SMTP server")
        yield SmtpServer(port, mailbox)
    finally:
        controller.stop()


def mailing_through(env: dict[str, str], smtp: SmtpServer, pki: Pki, outbox: Path) -> dict[str, str]:
    """A service's environment that mails through `smtp`, trusting the throwaway CA."""
    return {**env, "SMTP_URL": smtp.url, "SMTP_CA_FILE": str(pki.ca_file), "IDP_OUTBOX": str(outbox)}
