"""Hostile input for the property tests: hostile text, real SP messages (made by python3-saml) and
the two bindings that carry them, certificates of odd key types, and Hypothesis strategies that
mutate XML (messages and metadata) and build raw query strings and forms.

Nothing here uses the IdP's own SAML code: messages are built, signed and encoded independently.
"""

from __future__ import annotations

import base64
import copy
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from hypothesis import strategies as st
from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.support import self_signed_certificate

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

BASE_URL = "http://127.0.0.1:5000"  # the test service's IDP_BASE_URL (tests/conftest.py)
SSO_URL = f"{BASE_URL}/saml/sso"
SLO_URL = f"{BASE_URL}/saml/slo"
# The SP of tests.api.helpers.saml_app(): registered by the HTTP tests, so messages get past the app lookup.
SP_ENTITY_ID = "https://sp.example.com/saml/metadata"
ACS_URL = "https://sp.example.com/saml/acs"

# ---------------------------------------------------------------------------------------------
# Hostile text
# ---------------------------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "x\udfffy",
            "\ufeff",
            "\u202e",
            "e\u0301",
            "\r\nSet-Cookie: x=1",
            "%00",
            "%ED%A0%80",
            "%C0%BC",
            "&amp;",
            "<x/>",
            "]]>",
            "${jndi:ldap://127.0.0.1:9/a}",
            "../../../../etc/passwd",
            "9" * 5000,
            "-1",
            "+1",
            "\u0661",
            "1e9",
            "0x10",
            "2030-01-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2024-02-30T00:00:00Z",
            "true",
            "1",
        ]
    ),
    st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=20),
)


def xml_text(text: str) -> str:
    """What XML 1.0 can carry of `text` (lxml refuses the rest when building a tree)."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or 0x10000 <= ord(c) <= 0x10FFFF
    )


def utf8(text: str) -> bytes:
    """`text` as a client would send it: lone surrogates go as the (invalid) bytes that encode them."""
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------------
# Real messages, made by python3-saml
# ---------------------------------------------------------------------------------------------


def onelogin_settings(
    *, entity_id: str = SP_ENTITY_ID, acs_url: str = ACS_URL, sso_url: str = SSO_URL, slo_url: str = SLO_URL
) -> OneLogin_Saml2_Settings:
    """python3-saml as the SP of the tests; messages it makes are signed, when they are, by `signed`."""
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": entity_id,
                "assertionConsumerService": {"url": acs_url, "binding": BINDING_HTTP_POST},
                "singleLogoutService": {"url": "https://sp.example.com/saml/sls", "binding": BINDING_HTTP_REDIRECT},
            },
            "idp": {
                "entityId": f"{BASE_URL}/metadata",
                "singleSignOnService": {"url": sso_url, "binding": BINDING_HTTP_REDIRECT},
                "singleLogoutService": {"url": slo_url, "binding": BINDING_HTTP_REDIRECT},
            },
            "security": {"signatureAlgorithm": RSA_SHA256, "digestAlgorithm": SHA256},
        },
        sp_validation_only=True,
    )


def authn_request(**settings: object) -> bytes:
    """An AuthnRequest as python3-saml writes it: NameIDPolicy, ACS URL, ProtocolBinding, Destination."""
    made = OneLogin_Saml2_Authn_Request(onelogin_settings(**settings), force_authn=False)
    return made.get_xml().encode()


def logout_request(**settings: object) -> bytes:
    made = OneLogin_Saml2_Logout_Request(
        onelogin_settings(**settings),
        name_id="agent@example.com",
        session_index="_session-1",
    )
    return made.get_xml().encode()


def logout_response(in_response_to: str = "_ours", **settings: object) -> bytes:
    made = OneLogin_Saml2_Logout_Response(onelogin_settings(**settings))
    made.build(in_response_to)
    return made.get_xml().encode()


def signed(xml: bytes, keys: tuple[bytes, bytes]) -> bytes:
    """`xml` with python3-saml's enveloped RSA-SHA256 signature, right after its Issuer."""
    key, cert = (part.decode() for part in keys)
    return OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=RSA_SHA256, digest_algorithm=SHA256)


def der_base64(cert_pem: bytes) -> str:
    """A certificate as apps hold it: base64 DER."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


# ---------------------------------------------------------------------------------------------
# The bindings
# ---------------------------------------------------------------------------------------------


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def redirect_value(xml: bytes) -> str:
    """A message as the HTTP-Redirect binding carries it, URL-encoded: DEFLATE, then base64."""
    return quote(base64.b64encode(deflate(xml)).decode(), safe="")


def post_value(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


@functools.cache
def odd_certificates() -> list[str]:
    """Well-formed certificates (base64 DER) of keys an SP might hold, and one of a key type nobody knows."""
    keys: list[ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | dsa.DSAPrivateKey | rsa.RSAPrivateKey] = [
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
        dsa.generate_private_key(2048),
        rsa.generate_private_key(65537, 2048),
    ]
    found = []
    for key in keys:
        certificate = self_signed_certificate(key, "odd sp", days_before=1)
        found.append(certificate.public_bytes(serialization.Encoding.DER))
    # The RSA certificate with its key's algorithm changed to an OID no library knows: it still
    # parses, and only reading its key fails.
    rsa_encryption, unknown = bytes.fromhex("06092a864886f70d010101"), bytes.fromhex("06092a864886f70d01017f")
    found.append(found[-1].replace(rsa_encryption, unknown, 1))
    return [base64.b64encode(der).decode() for der in found]


# ---------------------------------------------------------------------------------------------
# Mutations of a real document (a message or metadata)
# ---------------------------------------------------------------------------------------------

NAMESPACES = [SAMLP, SAML, DS, MD, "", "urn:example:not-saml", SAMLP + ":", SAMLP.upper()]
LOCAL_NAMES = [
    "AuthnRequest",
    "LogoutRequest",
    "LogoutResponse",
    "Issuer",
    "NameID",
    "SessionIndex",
    "NameIDPolicy",
    "Extensions",
    "Signature",
    "Status",
    "StatusCode",
    "x",
]
ATTRIBUTES = [
    "ID",
    "Version",
    "IssueInstant",
    "Destination",
    "AssertionConsumerServiceURL",
    "AssertionConsumerServiceIndex",
    "ProtocolBinding",
    "ForceAuthn",
    "IsPassive",
    "Format",
    "InResponseTo",
    "Value",
    "URI",
    "Algorithm",
    "{urn:example:x}ID",
]
HUGE = st.sampled_from([10_000, 100_000, 300_000]).map(lambda n: "A" * n)
ATTRIBUTE_VALUES = HOSTILE_TEXT | HUGE | st.sampled_from(["#", "#_x", "2.0", "1.1", "_" + "0" * 40])


@dataclass(frozen=True)
class Vocabulary:
    """The names a mutation renames to and the attributes it sets: those the reader looks at, and others."""

    names: list[str]
    attributes: list[str]
    texts: st.SearchStrategy[str] = HOSTILE_TEXT | HUGE
    certificates: bool = False  # whether to swap X509Certificates for odd ones (odd_certificates())


MESSAGES = Vocabulary(LOCAL_NAMES, ATTRIBUTES)
METADATA = Vocabulary(
    [
        "EntityDescriptor",
        "EntitiesDescriptor",
        "SPSSODescriptor",
        "IDPSSODescriptor",
        "AssertionConsumerService",
        "SingleLogoutService",
        "KeyDescriptor",
        "KeyInfo",
        "X509Data",
        "X509Certificate",
        "NameIDFormat",
        "Extensions",
        "x",
    ],
    [
        "entityID",
        "protocolSupportEnumeration",
        "Binding",
        "Location",
        "ResponseLocation",
        "index",
        "isDefault",
        "use",
        "AuthnRequestsSigned",
        "WantAssertionsSigned",
        "ID",
        "{urn:example:x}entityID",
    ],
    certificates=True,
)

Tree = etree._Element
Mutation = Callable[[st.DrawFn, Tree, Vocabulary], None]


def _pick(draw: st.DrawFn, root: Tree, *, with_root: bool = True) -> Tree | None:
    elements = [e for e in root.iter() if isinstance(e.tag, str) and (with_root or e is not root)]
    return draw(st.sampled_from(elements)) if elements else None


def _drop(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root, with_root=False)
    if element is not None and element.getparent() is not None:
        element.getparent().remove(element)


def _duplicate(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root, with_root=False)
    if element is not None:
        element.addnext(copy.deepcopy(element))


def _move(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    """An element taken from where it was and put inside another (a Signature into Extensions...)."""
    element = _pick(draw, root, with_root=False)
    if element is None:
        return
    target = _pick(draw, root)
    if target is not None and element not in target.iterancestors() and target is not element:
        target.append(element)


def _rename(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is None:
        return
    namespace = draw(st.sampled_from([etree.QName(element).namespace or "", *NAMESPACES]))
    local = draw(st.sampled_from([etree.QName(element).localname, *vocabulary.names]))
    element.tag = f"{{{namespace}}}{local}" if namespace else local


def _drop_attribute(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is not None and element.attrib:
        del element.attrib[draw(st.sampled_from(sorted(element.attrib)))]


def _rename_attribute(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is not None and element.attrib:
        name = draw(st.sampled_from(sorted(element.attrib)))
        value, local = element.attrib.pop(name), etree.QName(name).localname
        names = [local.lower(), local.upper(), "{urn:example:x}" + local, *vocabulary.attributes]
        element.set(draw(st.sampled_from(names)), value)


def _set_attribute(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is not None:
        element.set(draw(st.sampled_from(vocabulary.attributes)), xml_text(draw(ATTRIBUTE_VALUES)))


def _set_text(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is not None:
        element.text = xml_text(draw(vocabulary.texts))


def _comment_inside(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    """A comment inside an element's text: `<Issuer>https://sp.<!---->example.com</Issuer>`."""
    issuer = root.find(f"{{{SAML}}}Issuer")
    element = issuer if issuer is not None and draw(st.booleans()) else _pick(draw, root)
    if element is None:
        return
    text = element.text or ""
    cut = draw(st.integers(0, len(text)))
    comment = etree.Comment(xml_text(draw(st.text(max_size=10))).replace("--", "").rstrip("-"))
    element.text, comment.tail = text[:cut], text[cut:]
    element.insert(0, comment)


def _wrap(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    """The message's children wrapped in a new element (the root stays, its contents move down)."""
    namespace = draw(st.sampled_from(NAMESPACES)) or SAMLP
    wrapper = etree.Element(f"{{{namespace}}}{draw(st.sampled_from(vocabulary.names))}")
    for child in list(root):
        wrapper.append(child)
    root.append(wrapper)


def _nest(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    element = _pick(draw, root)
    if element is None:
        return
    for _ in range(draw(st.sampled_from([10, 300, 3000]))):
        element = etree.SubElement(element, f"{{{SAMLP}}}Extensions")


def _swap_certificate(draw: st.DrawFn, root: Tree, vocabulary: Vocabulary) -> None:
    """An X509Certificate replaced by a certificate of an odd kind: EC, Ed25519, DSA, a key type no one knows."""
    certificates = list(root.iter(f"{{{DS}}}X509Certificate"))
    if vocabulary.certificates and certificates:
        draw(st.sampled_from(certificates)).text = draw(st.sampled_from(odd_certificates()))


TREE_MUTATIONS: list[Mutation] = [
    _swap_certificate,
    _drop,
    _duplicate,
    _move,
    _rename,
    _drop_attribute,
    _rename_attribute,
    _set_attribute,
    _set_text,
    _comment_inside,
    _wrap,
    _nest,
]

_DOCTYPES = [
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">',
    b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b"<!doctype r>",
]


def _inject_doctype(draw: st.DrawFn, data: bytes) -> bytes:
    """A DOCTYPE before the root, its entity referenced in the Issuer, in UTF-8 or UTF-16."""
    doctype = draw(st.sampled_from(_DOCTYPES))
    body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
    if draw(st.booleans()):
        body = body.replace(b"</saml:Issuer>", b"&x;&b;</saml:Issuer>", 1)
    document = doctype + body
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"]))
    if encoding.startswith("utf-8"):
        return document.decode("utf-8", "replace").encode(encoding)
    declared = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'.encode()
    return (declared + document).decode("utf-8", "replace").encode(encoding)


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]


def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _insert(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    piece = draw(
        st.sampled_from([b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc0\xbc", b"\xed\xa0\x80", b"&#xD800;", b"]]>"])
        | st.binary(max_size=8)
    )
    return data[:at] + piece + data[at:]


BYTE_MUTATIONS = [_inject_doctype, _flip, _truncate, _insert]


@st.composite
def mutated(draw: st.DrawFn, xml: bytes, vocabulary: Vocabulary = MESSAGES) -> bytes:
    """`xml` changed by one to three tree mutations, then perhaps one mutation of its bytes."""
    root = etree.fromstring(xml)
    for _ in range(draw(st.integers(1, 3))):
        draw(st.sampled_from(TREE_MUTATIONS))(draw, root, vocabulary)
    data = etree.tostring(root, encoding="UTF-8")
    if draw(st.integers(0, 3)) == 0:
        data = draw(st.sampled_from(BYTE_MUTATIONS))(draw, data)
    return data


# ---------------------------------------------------------------------------------------------
# Query strings and forms as a hostile client sends them
# ---------------------------------------------------------------------------------------------

PARAMS = ["SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature"]


@st.composite
def encoded_values(draw: st.DrawFn) -> str:
    """A parameter value: hostile text, base64 of random bytes, DEFLATE of random or hostile bytes..."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return quote(utf8(draw(HOSTILE_TEXT)), safe="")
    if kind == 1:
        return draw(HOSTILE_TEXT)  # as it is, not URL-encoded
    if kind == 2:
        return quote(base64.b64encode(draw(st.binary(max_size=64))).decode(), safe="")
    if kind == 3:
        return quote(base64.b64encode(deflate(draw(st.binary(max_size=64)))).decode(), safe="")
    if kind == 4:
        return redirect_value(utf8(draw(HOSTILE_TEXT)))
    return draw(st.sampled_from([RSA_SHA256, quote(RSA_SHA256, safe=""), "", "=", "%", "%zz", "+", "&"]))


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """Raw query strings: any order, repeated and empty parameters, stray separators."""
    pairs = draw(st.lists(st.tuples(st.sampled_from([*PARAMS, "x", ""]) | st.text(max_size=5), encoded_values())))
    parts = [f"{name}={value}" if draw(st.booleans()) or value else name for name, value in pairs]
    return draw(st.sampled_from(["&", "&&", ";"])).join(parts)


@st.composite
def forms(draw: st.DrawFn) -> dict[str, str]:
    values = st.one_of(
        HOSTILE_TEXT,
        st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        HOSTILE_TEXT.map(lambda text: base64.b64encode(utf8(text)).decode()),
    )
    return draw(st.dictionaries(st.sampled_from(PARAMS) | st.text(max_size=5), values, max_size=5))
