"""The corpus entries that are not kept as files: binary, large, or signed with a key made for the test run.

`BUILT[name](context)` answers an entry's bytes; manifest.toml says which endpoint each goes to.
Text entries are files beside this one, filled in by `Context.fill`.
"""

from __future__ import annotations

import base64
import copy
import datetime
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import xmlsec
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

FOLDER = Path(__file__).resolve().parent
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


@dataclass(frozen=True)
class Context:
    """What the entries are made for: the registered SPs, the signing SP's key pair, the secret file
    an entity would read, and the loopback listener a fetch would reach."""

    issuer: str  # the SP that does not sign
    signing_issuer: str  # the SP that must sign, with `keys`
    keys: tuple[bytes, bytes]  # (private key PEM, certificate PEM)
    secret_uri: str
    listener_address: str  # 127.0.0.1:PORT

    def fill(self, text: bytes) -> bytes:
        """A text entry with its placeholders replaced; each filling gets a fresh ID and the time now."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for placeholder, value in (
            ("@ID@", "_" + secrets.token_hex(16)),
            ("@NOW@", now),
            ("@ISSUER@", self.issuer),
            ("@SECRET_URI@", self.secret_uri),
            ("@LISTENER_ADDRESS@", self.listener_address),
        ):
            text = text.replace(placeholder.encode(), value.encode())
        return text

    def file(self, name: str) -> bytes:
        return self.fill((FOLDER / name).read_bytes())


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _redirect_value(xml: bytes) -> str:
    return quote(base64.b64encode(_deflate(xml)).decode(), safe="")


def _utf16(xml: bytes, codec: str = "utf-16") -> bytes:
    """The document in UTF-16 (with a BOM unless the codec names the byte order), declared so."""
    declared = f'<?xml version="1.0" encoding="{codec.upper()}"?>'
    return (declared + xml.decode()).encode(codec)


def _laughs(levels: int = 9) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels + 1)]
    return f"<!DOCTYPE lolz [{''.join(entities)}]>".encode()


def _authn_request(context: Context, *, issuer: str | None = None, **attributes: str) -> etree._Element:
    root = etree.fromstring(context.file("baseline-authn-request.xml"))
    for name, value in attributes.items():
        root.set(name, value)
    if issuer is not None:
        root.find(f"{{{SAML}}}Issuer").text = issuer
    return root


def _with_issuer_text(xml: bytes, extra: bytes) -> bytes:
    return xml.replace(b"</saml:Issuer>", extra + b"</saml:Issuer>", 1)


# ---------------------------------------------------------------------------------------------
# Encodings and bytes
# ---------------------------------------------------------------------------------------------


def doctype_after_bom(context: Context) -> bytes:
    return b"\xef\xbb\xbf" + context.file("xxe-secret.xml")


def doctype_utf16(context: Context) -> bytes:
    return _utf16(context.file("xxe-secret.xml"))


def doctype_utf16_without_bom(context: Context) -> bytes:
    return _utf16(context.file("external-dtd.xml"), "utf-16-le")


def doctype_utf7(context: Context) -> bytes:
    """The DOCTYPE's markup in UTF-7 (`+ADw-` is `<`), which no byte search for `<!DOCTYPE` sees."""
    xml = context.file("xxe-secret.xml")
    doctype, rest = xml.split(b">\n", 1)
    markup = doctype.replace(b"<", b"+ADw-").replace(b">", b"+AD4-").replace(b"[", b"+AFs-").replace(b"]", b"+AF0-")
    return b'<?xml version="1.0" encoding="UTF-7"?>' + markup + b"+AD4-" + rest.replace(b"&", b"+ACY-")


def metadata_doctype_utf16(context: Context) -> bytes:
    return _utf16(context.file("metadata-xxe.xml"))


def billion_laughs_utf16(context: Context) -> bytes:
    return _utf16(_laughs() + _with_issuer_text(context.file("baseline-authn-request.xml"), b"&lol9;"))


def quadratic_blowup(context: Context) -> bytes:
    """One 40 KB entity referenced 5000 times: 200 MB from a document of about 60 KB."""
    doctype = b'<!DOCTYPE r [<!ENTITY a "' + b"A" * 40_000 + b'">]>'
    return doctype + _with_issuer_text(context.file("baseline-authn-request.xml"), b"&a;" * 5000)


def quadratic_blowup_utf16(context: Context) -> bytes:
    return _utf16(quadratic_blowup(context))


def nul_bytes(context: Context) -> bytes:
    return _with_issuer_text(context.file("baseline-authn-request.xml"), b"\x00\x00")


def overlong_utf8(context: Context) -> bytes:
    """`/` and `<` as overlong two-byte sequences (0xC0 0xAF, 0xC0 0xBC), which UTF-8 forbids."""
    return _with_issuer_text(context.file("baseline-authn-request.xml"), b"\xc0\xaf..\xc0\xafetc\xc0\xafpasswd\xc0\xbc")


def lone_surrogate_bytes(context: Context) -> bytes:
    """A lone surrogate (U+D800) written as the three bytes that would encode it, which UTF-8 forbids."""
    return _with_issuer_text(context.file("baseline-authn-request.xml"), b"\xed\xa0\x80")


def huge_attribute(context: Context) -> bytes:
    return etree.tostring(_authn_request(context, ProviderName="A" * (300 * 1024)))


def deep_nesting(context: Context) -> bytes:
    inner = b"<samlp:Extensions>" * 5000 + b"</samlp:Extensions>" * 5000
    return context.file("baseline-authn-request.xml").replace(b"</saml:Issuer>", b"</saml:Issuer>" + inner, 1)


# ---------------------------------------------------------------------------------------------
# The HTTP-Redirect binding
# ---------------------------------------------------------------------------------------------


def deflate_bomb(context: Context) -> bytes:
    """64 MiB of whitespace inside a request, DEFLATEd to some 64 KiB: far past the 256 KiB inflated limit."""
    xml = _with_issuer_text(context.file("baseline-authn-request.xml"), b"")
    bomb = xml.replace(b"<saml:Issuer>", b" " * (64 * 1024 * 1024) + b"<saml:Issuer>", 1)
    return f"SAMLRequest={_redirect_value(bomb)}".encode()


def giant_relay_state(context: Context) -> bytes:
    """A valid request with 256 KiB of RelayState."""
    xml = context.file("baseline-authn-request.xml")
    return f"SAMLRequest={_redirect_value(xml)}&RelayState={'A' * (256 * 1024)}".encode()


def giant_relay_state_form(context: Context) -> bytes:
    """The same over HTTP-POST, 512 KiB of RelayState in the form."""
    xml = context.file("baseline-authn-request.xml")
    encoded = quote(base64.b64encode(xml).decode(), safe="")
    return f"SAMLRequest={encoded}&RelayState={'A' * (512 * 1024)}".encode()


def redirect_signature_garbage(context: Context) -> bytes:
    """The signing SP's request with a DSA-SHA1 SigAlg and a signature of NUL bytes."""
    xml = etree.tostring(_authn_request(context, issuer=context.signing_issuer))
    dsa_sha1 = quote("http://www.w3.org/2000/09/xmldsig#dsa-sha1", safe="")
    return f"SAMLRequest={_redirect_value(xml)}&SigAlg={dsa_sha1}&Signature=%00%00%00".encode()


# ---------------------------------------------------------------------------------------------
# Signature wrapping, on a request the signing SP signed (python3-saml's enveloped signature)
# ---------------------------------------------------------------------------------------------


def _signed_root(context: Context, **attributes: str) -> etree._Element:
    key, cert = (part.decode() for part in context.keys)
    xml = etree.tostring(_authn_request(context, issuer=context.signing_issuer, **attributes))
    signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=RSA_SHA256, digest_algorithm=SHA256)
    return etree.fromstring(signed)


def signed_baseline(context: Context) -> bytes:
    return etree.tostring(_signed_root(context))


def _evil(context: Context, genuine: etree._Element, *, evil_id: str) -> etree._Element:
    """An attacker's request (a fresh ID, so a replay gets past the replay check) carrying the genuine
    signature as its own, the genuine signed request tucked inside its Extensions."""
    evil = _authn_request(context, issuer=context.signing_issuer, ID=evil_id, IsPassive="true")
    evil.find(f"{{{SAML}}}Issuer").addnext(copy.deepcopy(genuine.find(f"{{{DS}}}Signature")))
    extensions = etree.SubElement(evil, f"{{{SAMLP}}}Extensions")
    stripped = copy.deepcopy(genuine)
    stripped.remove(stripped.find(f"{{{DS}}}Signature"))
    extensions.append(stripped)
    return evil


def wrap_in_extensions(context: Context) -> bytes:
    return etree.tostring(_evil(context, _signed_root(context), evil_id="_" + secrets.token_hex(16)))


def wrap_reusing_the_signed_id(context: Context) -> bytes:
    genuine = _signed_root(context)
    return etree.tostring(_evil(context, genuine, evil_id=genuine.get("ID")))


def wrap_genuine_kept_whole(context: Context) -> bytes:
    """The genuine request, its signature still inside it, as the evil request's last child."""
    genuine = _signed_root(context)
    evil = _authn_request(context, issuer=context.signing_issuer, IsPassive="true")
    evil.find(f"{{{SAML}}}Issuer").addnext(copy.deepcopy(genuine.find(f"{{{DS}}}Signature")))
    etree.SubElement(evil, f"{{{SAMLP}}}Extensions").append(genuine)
    return etree.tostring(evil)


def signature_moved_into_extensions(context: Context) -> bytes:
    root = _signed_root(context)
    signature = root.find(f"{{{DS}}}Signature")
    root.remove(signature)
    etree.SubElement(root, f"{{{SAMLP}}}Extensions").append(signature)
    return etree.tostring(root)


def two_signatures(context: Context) -> bytes:
    """The genuine signature, then a second one over the same ID by a key nobody registered."""
    root = _signed_root(context)
    second = copy.deepcopy(root.find(f"{{{DS}}}Signature"))
    value = second.find(f"{{{DS}}}SignatureValue")
    value.text = base64.b64encode(secrets.token_bytes(256)).decode()
    root.find(f"{{{DS}}}Signature").addnext(second)
    return etree.tostring(root)


def comment_in_signed_issuer(context: Context) -> bytes:
    """A comment put inside the signed Issuer's text: exclusive c14n leaves comments out, so the
    signature still verifies, while a reader stopping at the comment sees a shorter Issuer."""
    root = _signed_root(context)
    issuer = root.find(f"{{{SAML}}}Issuer")
    head, tail = issuer.text[:-8], issuer.text[-8:]
    comment = etree.Comment(" ")
    issuer.text, comment.tail = head, tail
    issuer.append(comment)
    return etree.tostring(root)


def _sign_with(context: Context, root: etree._Element, *, uri: str, xpath: bool = False) -> etree._Element:
    key_pem, cert_pem = context.keys
    signature = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256)
    root.find(f"{{{SAML}}}Issuer").addnext(signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha256, uri=uri)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    if xpath:
        transform = xmlsec.template.add_transform(reference, xmlsec.constants.TransformXPath)
        etree.SubElement(transform, f"{{{DS}}}XPath").text = "not(ancestor-or-self::*[local-name()='Extensions'])"
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(root, ["ID"])
    context_ = xmlsec.SignatureContext()
    signing_key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    signing_key.load_cert_from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    context_.key = signing_key
    context_.sign(signature)
    return root


def signature_over_the_whole_document(context: Context) -> bytes:
    """A genuine signature whose Reference is URI="" (the whole document), not the request by its ID."""
    return etree.tostring(_sign_with(context, _authn_request(context, issuer=context.signing_issuer), uri=""))


def signature_with_an_xpath_transform(context: Context) -> bytes:
    """A genuine signature with an XPath transform that leaves Extensions out of what is signed, and
    Extensions added after signing."""
    root = _authn_request(context, issuer=context.signing_issuer)
    signed = _sign_with(context, root, uri="#" + root.get("ID"), xpath=True)
    etree.SubElement(signed, f"{{{SAMLP}}}Extensions").text = "added after signing"
    return etree.tostring(signed)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def json_nesting_arrays(context: Context) -> bytes:
    return b"[" * 100_000


def json_nesting_objects(context: Context) -> bytes:
    return b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def json_nesting_in_metadata(context: Context) -> bytes:
    return b'{"metadata": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


def json_with_bom(context: Context) -> bytes:
    return b'\xef\xbb\xbf{"name": "BOM app", "authentication_type": "None", "url": "https://sp.example.com/"}'


def json_invalid_utf8(context: Context) -> bytes:
    return b'{"name": "\xff\xfe\xc0\xaf", "authentication_type": "None", "url": "https://sp.example.com/"}'


def launch_huge_hash(context: Context) -> bytes:
    return b"hash=" + b"A" * (512 * 1024)


def launch_raw_bytes(context: Context) -> bytes:
    return b"hash=\xed\xa0\x80\xff\x00"


BUILT: dict[str, Callable[[Context], bytes]] = {
    builder.__name__: builder
    for builder in (
        doctype_after_bom,
        doctype_utf16,
        doctype_utf16_without_bom,
        doctype_utf7,
        metadata_doctype_utf16,
        billion_laughs_utf16,
        quadratic_blowup,
        quadratic_blowup_utf16,
        nul_bytes,
        overlong_utf8,
        lone_surrogate_bytes,
        huge_attribute,
        deep_nesting,
        deflate_bomb,
        giant_relay_state,
        giant_relay_state_form,
        redirect_signature_garbage,
        signed_baseline,
        wrap_in_extensions,
        wrap_reusing_the_signed_id,
        wrap_genuine_kept_whole,
        signature_moved_into_extensions,
        two_signatures,
        comment_in_signed_issuer,
        signature_over_the_whole_document,
        signature_with_an_xpath_transform,
        json_nesting_arrays,
        json_nesting_objects,
        json_nesting_in_metadata,
        json_with_bom,
        json_invalid_utf8,
        launch_huge_hash,
        launch_raw_bytes,
    )
}
