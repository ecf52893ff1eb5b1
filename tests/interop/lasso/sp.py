"""Lasso as a SAML 2.0 service provider, offline: judge one SAMLResponse posted to our ACS.

Run by Debian's /usr/bin/python3 (python3-lasso is not importable from the project's virtualenv):

    /usr/bin/python3 sp.py SP_METADATA SP_KEY SP_CERT IDP_METADATA < base64-SAMLResponse

It prints one JSON object: {"accepted": true, "name_id": ..., "name_id_format": ..., "issuer": ...,
"attributes": {name: [values]}} or {"accepted": false, "step": ..., "code": ..., "error": ...}.
This is what mod_auth_mellon does with a response (lasso.Login on a lasso.Server built from its SP
metadata and key plus the IdP's metadata), without Apache around it.
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


def judge(sp_metadata, sp_key, sp_cert, idp_metadata, message):
    server = lasso.Server(sp_metadata, sp_key, None, sp_cert)
    server.addProvider(lasso.PROVIDER_ROLE_IDP, idp_metadata)
    login = lasso.Login(server)
    step = "processAuthnResponseMsg"
    try:
        login.processAuthnResponseMsg(message)  # parse, find the IdP, verify the signatures
        step = "acceptSso"
        login.acceptSso()  # build the SP-side session and identity from the assertion
    except lasso.Error as error:
        return {"accepted": False, "step": step, "code": error.code, "error": str(error)}
    assertion = login.assertion
    return {
        "accepted": True,
        "issuer": login.remoteProviderId,
        "name_id": assertion.subject.nameID.content,
        "name_id_format": assertion.subject.nameID.format,
        "attributes": attributes(assertion),
    }


if __name__ == "__main__":
    print(json.dumps(judge(*sys.argv[1:5], sys.stdin.read().strip())))
