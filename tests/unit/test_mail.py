"""Sending mail: to a real aiosmtpd server over STARTTLS and implicit TLS, and into an outbox folder."""

from __future__ import annotations

import email
import ipaddress
import socket
import ssl
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.accounts import mail
from idp.accounts.mail import Message, OutboxMailer, SmtpMailer, _requires_starttls, mailer_for
from idp.config import Settings
from idp.errors import ConfigurationError, MailFailed, ValidationError
from tests.support import free_port, wait_until

SENDER = "IdP <no-reply@idp.example>"
RECIPIENT = "ada@example.com"
USER = "user"
PASSWORD = "p@ss"  # percent-encoded as p%40ss in URLs


# --- a throwaway PKI -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server: ssl.SSLContext  # certificate for 127.0.0.1, signed by the CA in ca_file
    wrong_name: ssl.SSLContext  # signed by the same CA, but for another host name


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san or []), critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _server_context(folder: Path, stem: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey):
    cert_file, key_file = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test Mail CA", ca_key, None, ca_key)
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    key = ec.generate_private_key(ec.SECP256R1())
    loopback = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = _certificate("127.0.0.1", key, ca, ca_key, loopback)
    other = _certificate("mail.other.example", key, ca, ca_key, [x509.DNSName("mail.other.example")])
    return Pki(
        ca_file=ca_file,
        server=_server_context(folder, "server", server, key),
        wrong_name=_server_context(folder, "other", other, key),
    )


# --- a real SMTP server ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool  # the connection the mail came over was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the user the session authenticated as

    def parsed(self) -> EmailMessage:
        return _parse(self.content)


def _parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, email.message_from_bytes(data, policy=policy.default))


@dataclass
class Keeper:
    """An aiosmtpd handler that keeps what it receives and the login attempts it sees."""

    received: list[Received] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # session.ssl is only filled in after STARTTLS; the transport knows about implicit TLS too.
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        auth = session.auth_data
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content if isinstance(envelope.content, bytes) else b"",
                tls=tls,
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 OK"

    def authenticator(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.attempts.append(auth_data.login.decode())
        if auth_data == (USER.encode(), PASSWORD.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False makes aiosmtpd answer 535 itself; the default (handled=True) sends no reply at all.
        return AuthResult(success=False, handled=False)


def _accepts_connections(host: str, port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Keeper, int]]]:
    """Starts aiosmtpd servers with the given SMTP options; every one is stopped after the test."""
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Keeper, int]:
        host = "127.0.0.1"
        keeper = Keeper()
        port = free_port()
        controller = Controller(
            keeper, hostname=host, port=port, server_hostname="mail.test", authenticator=keeper.authenticator, **options
        )
        controller.start()
        controllers.append(controller)
        wait_until(_accepts_connections(host, port), timeout=10, what="SMTP server")
        return keeper, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def starttls_server(smtp_server, pki: Pki) -> tuple[Keeper, int]:
    return smtp_server(tls_context=pki.server, require_starttls=True, auth_require_tls=True)


BODY = "Grüße! Your code is 123456.\n"


def _message(**overrides: str) -> Message:
    return Message(**{"to": RECIPIENT, "subject": "Your sign-in code", "body": BODY} | overrides)


def _text(message: EmailMessage) -> str:
    """The decoded body, with CRLF (canonical on the wire and in .eml files) read as newlines."""
    return message.get_content().replace("\r\n", "\n")


# --- SMTP ------------------------------------------------------------------------------------------------------------


def test_starttls_with_login_delivers_the_message(starttls_server, pki: Pki) -> None:
    keeper, port = starttls_server
    SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER, ca_file=pki.ca_file).send(_message())

    [mail] = keeper.received
    assert mail.tls
    assert mail.login == USER
    assert mail.mail_from == "no-reply@idp.example"
    assert mail.rcpt_tos == [RECIPIENT]
    parsed = mail.parsed()
    assert parsed["From"] == SENDER
    assert parsed["To"] == RECIPIENT
    assert parsed["Subject"] == "Your sign-in code"
    assert parsed["Date"] and parsed["Message-ID"]
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert _text(parsed) == BODY


def test_wrong_password_fails_without_revealing_it(starttls_server, pki: Pki) -> None:
    keeper, port = starttls_server
    mailer = SmtpMailer(f"smtp://user:not-the-secret@127.0.0.1:{port}", SENDER, ca_file=pki.ca_file)

    with pytest.raises(MailFailed) as failure:
        mailer.send(_message())

    assert "127.0.0.1" in str(failure.value)
    assert "not-the-secret" not in str(failure.value)
    assert keeper.attempts and set(keeper.attempts) == {USER}  # the login was tried (per mechanism), and refused
    assert keeper.received == []


def test_certificate_from_an_untrusted_ca_is_refused(starttls_server) -> None:
    keeper, port = starttls_server
    mailer = SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER)  # system CAs only

    with pytest.raises(MailFailed, match="certificate verify failed") as failure:
        mailer.send(_message())

    assert isinstance(failure.value.__cause__, ssl.SSLCertVerificationError)
    assert keeper.attempts == []  # the password never went out
    assert keeper.received == []


def test_certificate_for_another_host_name_is_refused(smtp_server, pki: Pki) -> None:
    keeper, port = smtp_server(tls_context=pki.wrong_name, require_starttls=True)
    mailer = SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER, ca_file=pki.ca_file)

    with pytest.raises(MailFailed) as failure:
        mailer.send(_message())

    assert isinstance(failure.value.__cause__, ssl.SSLCertVerificationError)
    assert keeper.attempts == []
    assert keeper.received == []


def test_smtps_uses_implicit_tls(smtp_server, pki: Pki) -> None:
    # aiosmtpd only counts STARTTLS as encryption for AUTH, so it must be told AUTH is fine on an implicit TLS socket.
    keeper, port = smtp_server(ssl_context=pki.server, auth_require_tls=False)
    SmtpMailer(f"smtps://user:p%40ss@127.0.0.1:{port}", SENDER, ca_file=pki.ca_file).send(_message())

    [mail] = keeper.received
    assert mail.tls
    assert mail.login == USER
    assert mail.parsed()["Subject"] == "Your sign-in code"


def test_smtps_with_an_untrusted_certificate_is_refused(smtp_server, pki: Pki) -> None:
    keeper, port = smtp_server(ssl_context=pki.server, auth_require_tls=False)

    with pytest.raises(MailFailed):
        SmtpMailer(f"smtps://user:p%40ss@127.0.0.1:{port}", SENDER).send(_message())

    assert keeper.attempts == []
    assert keeper.received == []


def test_loopback_relay_without_starttls_is_used_in_plain(smtp_server) -> None:
    keeper, port = smtp_server(auth_require_tls=False)  # no tls_context: STARTTLS is not offered
    SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER).send(_message())

    [mail] = keeper.received
    assert not mail.tls
    assert mail.login == USER


def test_a_server_that_must_offer_starttls_and_does_not_is_refused(smtp_server, monkeypatch) -> None:
    # Tests bind to loopback only, where plain SMTP is tolerated; so here the rule is applied to
    # loopback too (the rule itself is tested below), to see that send() refuses before logging in.
    monkeypatch.setattr(mail, "_requires_starttls", lambda host: True)
    keeper, port = smtp_server(auth_require_tls=False)  # offers AUTH in plain, but no STARTTLS

    with pytest.raises(MailFailed, match="does not offer STARTTLS"):
        SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER).send(_message())

    assert keeper.attempts == []  # the password never went out in plain
    assert keeper.received == []


@pytest.mark.parametrize(
    ("host", "required"),
    [("mail.example.com", True), ("192.0.2.10", True), ("127.0.0.1", False), ("localhost", False), ("::1", False)],
)
def test_starttls_is_required_except_towards_loopback(host: str, required: bool) -> None:
    assert _requires_starttls(host) is required


def test_unreachable_server_fails_naming_the_host() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(MailFailed, match=f"127.0.0.1:{port}") as failure:
        SmtpMailer(f"smtp://user:p%40ss@127.0.0.1:{port}", SENDER).send(_message())
    assert "p@ss" not in str(failure.value) and "p%40ss" not in str(failure.value)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:99999"])
def test_malformed_smtp_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SmtpMailer(url, SENDER)


def test_default_ports_follow_the_scheme() -> None:
    assert SmtpMailer("smtp://mail.example.com", SENDER).port == 587
    assert SmtpMailer("smtps://mail.example.com", SENDER).port == 465
    assert SmtpMailer("smtp://mail.example.com:2525", SENDER).port == 2525


# --- outbox ----------------------------------------------------------------------------------------------------------


def test_outbox_writes_one_private_eml_file_per_message_in_sending_order(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "outbox"
    mailer = OutboxMailer(folder, SENDER)

    mailer.send(_message(subject="first"))
    mailer.send(_message(subject="second", to="bob@example.com"))

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]  # and no temporary files left behind
    messages = [_parse(path.read_bytes()) for path in files]
    assert [message["Subject"] for message in messages] == ["first", "second"]
    assert [message["To"] for message in messages] == [RECIPIENT, "bob@example.com"]
    assert all(message["From"] == SENDER for message in messages)
    assert _text(messages[0]) == BODY
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)


def test_header_with_a_line_break_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="line break"):
        OutboxMailer(tmp_path, SENDER).send(_message(subject="hi\r\nBcc: eve@example.com"))
    assert list(tmp_path.iterdir()) == []


# --- choosing a mailer -----------------------------------------------------------------------------------------------


def test_mailer_for_sends_through_smtp_url_trusting_smtp_ca_file(starttls_server, pki: Pki, tmp_path: Path) -> None:
    keeper, port = starttls_server
    settings = Settings.from_env(
        {
            "SMTP_URL": f"smtp://user:p%40ss@127.0.0.1:{port}",
            "SMTP_CA_FILE": str(pki.ca_file),
            "IDP_MAIL_FROM": SENDER,
            "IDP_OUTBOX": str(tmp_path / "outbox"),
        }
    )

    mailer = mailer_for(settings)
    mailer.send(_message())

    assert isinstance(mailer, SmtpMailer)
    assert [mail.login for mail in keeper.received] == [USER]
    assert not (tmp_path / "outbox").exists()


def test_mailer_for_writes_to_the_outbox_without_smtp_url(tmp_path: Path) -> None:
    settings = Settings.from_env({"IDP_MAIL_FROM": SENDER, "IDP_OUTBOX": str(tmp_path / "outbox")})

    mailer = mailer_for(settings)
    mailer.send(_message())

    assert isinstance(mailer, OutboxMailer)
    [path] = (tmp_path / "outbox").iterdir()
    assert _parse(path.read_bytes())["From"] == SENDER
