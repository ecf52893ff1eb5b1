"""Sending short text emails: over SMTP with verified TLS, or into an outbox folder of .eml files."""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from idp.config import Settings, is_loopback_host
from idp.errors import ConfigurationError, MailFailed, ValidationError

TIMEOUT_SECONDS = 10.0
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    html: str | None = None  # an HTML alternative to the plain-text body


class Mailer(Protocol):
    def send(self, message: Message) -> None: ...


def compose(message: Message, sender: str) -> EmailMessage:
    """The RFC 5322 message: From, To, Subject, Date, Message-ID and a UTF-8 text/plain body (with an HTML
    alternative when the message has one)."""
    email = EmailMessage(policy=policy.SMTP)
    try:
        email["From"] = sender
        email["To"] = message.to
        email["Subject"] = message.subject
    except ValueError:
        # The email policy refuses line breaks in header values: no header injection.
        raise ValidationError("An email header must not contain a line break.") from None
    email["Date"] = format_datetime(datetime.now(UTC))
    email["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    # Plain ASCII stays 7bit; anything else is quoted-printable, so no server needs 8BITMIME.
    email.set_content(message.body, charset="utf-8", cte=None if message.body.isascii() else "quoted-printable")
    if message.html is not None:
        # multipart/alternative: clients show the HTML part, or the plain text when they cannot.
        email.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return email


def _requires_starttls(host: str) -> bool:
    """smtp:// must upgrade to TLS, except to a mail relay on this very machine."""
    return not is_loopback_host(host)


class SmtpMailer:
    """Sends through `smtp://[user:password@]host[:port]` (STARTTLS) or `smtps://...` (implicit TLS)."""

    def __init__(self, url: str, sender: str, *, ca_file: Path | str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ConfigurationError("SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ConfigurationError("SMTP_URL must name a host")
        try:
            port = parts.port
        except ValueError:
            raise ConfigurationError(f"SMTP_URL has an invalid port for host {parts.hostname}") from None
        self.host: str = parts.hostname
        self.port: int = port or DEFAULT_PORTS[parts.scheme]
        self.implicit_tls = parts.scheme == "smtps"
        self.sender = sender
        self._username = unquote(parts.username) if parts.username is not None else None
        self._password = unquote(parts.password or "")
        # Verifies the certificate chain and the host name; `ca_file` adds a private CA, it never disables checks.
        try:
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
        except OSError as error:  # missing file, or not PEM (ssl.SSLError)
            raise ConfigurationError(f"SMTP_CA_FILE {ca_file} cannot be loaded: {error}") from error

    def send(self, message: Message) -> None:
        email = compose(message, self.sender)
        try:
            with self._connect() as smtp:
                if self._username is not None:
                    smtp.login(self._username, self._password)
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as error:  # ssl.SSLError and timeouts are OSErrors
            raise MailFailed(f"Could not send mail through {self.host}:{self.port}: {self._describe(error)}") from error

    def _connect(self) -> smtplib.SMTP:
        """An SMTP session that is encrypted, or plain only towards a loopback relay that offers no STARTTLS."""
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS, context=self._tls)
        smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
        try:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            elif _requires_starttls(self.host):
                raise MailFailed(f"SMTP server {self.host}:{self.port} does not offer STARTTLS; refusing to send")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _describe(self, error: BaseException) -> str:
        if isinstance(error, smtplib.SMTPResponseException):
            reply = error.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode(errors="replace")
            text = f"server replied {error.smtp_code} {reply}"
        else:
            text = str(error) or type(error).__name__
        # A server may echo what it was sent; the password never reaches a message or a log.
        return text.replace(self._password, "***") if self._password else text


_stamp_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=UTC)


def _next_stamp() -> datetime:
    """Now, but strictly later than the previous stamp in this process, so file names sort in sending order."""
    global _last_stamp
    with _stamp_lock:
        now = datetime.now(UTC)
        _last_stamp = max(now, _last_stamp + timedelta(microseconds=1))
        return _last_stamp


class OutboxMailer:
    """Writes each message as an .eml file, for development and for deployments without SMTP."""

    def __init__(self, folder: Path | str, sender: str) -> None:
        self.folder = Path(folder)
        self.sender = sender

    def send(self, message: Message) -> None:
        data = compose(message, self.sender).as_bytes()
        name = f"{_next_stamp():%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex}.eml"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._write_atomically(self.folder / name, data)
        except OSError as error:
            raise MailFailed(f"Could not write mail to the outbox {self.folder}: {error.strerror or error}") from error

    def _write_atomically(self, path: Path, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                os.fchmod(file.fileno(), 0o600)
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from, ca_file=settings.smtp_ca_file)
    return OutboxMailer(settings.outbox_dir, settings.mail_from)
