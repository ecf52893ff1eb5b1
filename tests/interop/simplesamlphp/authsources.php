<?php
// One SAML 2.0 service provider, "default-sp", that trusts only the IdP of the SSO application.
// Read on every request, so the tests change what the SP asks for by rewriting sp.json.
$sp = json_decode(file_get_contents(__DIR__ . '/sp.json'), true, 512, JSON_THROW_ON_ERROR);

$config = [
    'default-sp' => [
        'saml:SP',
        'entityID' => $sp['entity_id'],
        // Unknown until the app exists: the SP serves its metadata before it is imported.
        'idp' => $sp['idp_entity_id'] ?? null,
        // Its key signs its AuthnRequests (RSA-SHA256 over the HTTP-Redirect query) and decrypts
        // assertions; the certificate is published in its metadata for both uses.
        'privatekey' => $sp['folder'] . '/sp.key',
        'certificate' => $sp['folder'] . '/sp.crt',
        'sign.authnrequest' => true,
        // Single logout: its logout messages signed, and ours required to be.
        'sign.logout' => true,
        'validate.logout' => true,
        'NameIDPolicy' => ['Format' => $sp['name_id_format'], 'AllowCreate' => true],
    ],
];
// The RequestedAuthnContext of its AuthnRequests, when a test asks for one.
if (!empty($sp['authn_context'])) {
    $config['default-sp']['AuthnContextClassRef'] = $sp['authn_context'];
    $config['default-sp']['AuthnContextComparison'] = $sp['authn_context_comparison'] ?? 'exact';
}
