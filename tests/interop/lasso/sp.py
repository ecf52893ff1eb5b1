"""Lasso as a SAML 2.0 service provider, offline: make an AuthnRequest, judge a SAMLResponse.

Run by Debian's /usr/bin/python3 (python3-lasso is not importable from the project's virtualenv):

    /usr/bin/python3 sp.py request SP_METADATA SP_KEY SP_CERT IDP_METADATA IDP_ENTITY_ID RELAY_STATE STATE_FILE \
        [redirect|post] [rsa-sha256|lasso-default]
    /usr/bin/python3 sp.py response SP_METADATA SP_KEY SP_CERT IDP_METADATA [STATE_FILE] < base64-SAMLResponse

`request` prints {"url": the IdP's SSO URL with a signed HTTP-Redirect AuthnRequest, "id": its ID}
(with `post`, the HTTP-POST binding: {"url": the SSO URL, "id", "fields": {"SAMLRequest" with an
enveloped signature, "RelayState"}}) and keeps the login's state in STATE_FILE (lasso.Login.dump),
as an SP keeps it in its session. The request is signed with RSA-SHA256 (and SHA-256 digests over
HTTP-POST), as mod_auth_mellon asks of Lasso; `lasso-default` leaves Lasso's own default, RSA-SHA1.

`response` prints {"accepted": true, "name_id", "name_id_format", "issuer", "in_response_to": [the
Response's, the SubjectConfirmationData's], "attributes": {name: [values]}} or {"accepted": false,
"step", "code", "error"}; with STATE_FILE it continues the login that made the request.

This is what mod_auth_mellon does (lasso.Login on a lasso.Server built from its SP metadata and key
plus the IdP's metadata), without Apache around it.
"""

import json
import sys

import lasso


def attributes(assertion):
    found = {}
    for statement in assertion.attributeStatement or ():
        for attribute in statement.attribute or ():
            values = found.setdefault(attribute.name, [])
            for value in attribute.attributeValue or ():
                values.extend(node.content for node in value.any or () if isinstance(node, lasso.MiscTextNode))
    return found


def server(sp_metadata, sp_key, sp_cert, idp_metadata):
    built = lasso.Server(sp_metadata, sp_key, None, sp_cert)
    built.addProvider(lasso.PROVIDER_ROLE_IDP, idp_metadata)
    return built


SIGNATURE_METHODS = {"rsa-sha256": lasso.SIGNATURE_METHOD_RSA_SHA256, "lasso-default": None}


def request(
    sp_metadata,
    sp_key,
    sp_cert,
    idp_metadata,
    idp_entity_id,
    relay_state,
    state_file,
    binding="redirect",
    signature="rsa-sha256",
):
    sp = server(sp_metadata, sp_key, sp_cert, idp_metadata)
    if SIGNATURE_METHODS[signature] is not None:
        sp.signatureMethod = SIGNATURE_METHODS[signature]
    login = lasso.Login(sp)
    post = binding == "post"
    login.initAuthnRequest(idp_entity_id, lasso.HTTP_METHOD_POST if post else lasso.HTTP_METHOD_REDIRECT)
    login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
    login.request.nameIdPolicy.allowCreate = True
    login.msgRelayState = relay_state
    login.buildAuthnRequestMsg()  # the NameIDPolicy Format is the SP metadata's first NameIDFormat
    with open(state_file, "w") as state:
        state.write(login.dump())
    made = {"url": login.msgUrl, "id": login.request.id}
    if post:
        made["fields"] = {"SAMLRequest": login.msgBody, "RelayState": login.msgRelayState}
    return made


def judge(sp_metadata, sp_key, sp_cert, idp_metadata, message, state_file=None):
    sp = server(sp_metadata, sp_key, sp_cert, idp_metadata)
    if state_file:
        with open(state_file) as state:
            login = lasso.Login.newFromDump(sp, state.read())
    else:
        login = lasso.Login(sp)
    step = "processAuthnResponseMsg"
    try:
        login.processAuthnResponseMsg(message)  # parse, decrypt, find the IdP, verify the signatures
        step = "acceptSso"
        login.acceptSso()  # build the SP-side session and identity from the assertion
    except lasso.Error as error:
        return {"accepted": False, "step": step, "code": error.code, "error": str(error)}
    assertion = login.assertion
    confirmation = assertion.subject.subjectConfirmation
    return {
        "accepted": True,
        "issuer": login.remoteProviderId,
        "name_id": assertion.subject.nameID.content,
        "name_id_format": assertion.subject.nameID.format,
        "in_response_to": [login.response.inResponseTo, confirmation.subjectConfirmationData.inResponseTo],
        "attributes": attributes(assertion),
    }


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "request":
        print(json.dumps(request(*arguments[:9])))
    else:
        print(json.dumps(judge(*arguments[:4], sys.stdin.read().strip(), *arguments[4:5])))
