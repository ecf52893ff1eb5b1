<?php
// One SAML 2.0 service provider, "default-sp", that trusts only the IdP of the SSO application.
$sp = json_decode(file_get_contents(__DIR__ . '/sp.json'), true, 512, JSON_THROW_ON_ERROR);

$config = [
    'default-sp' => [
        'saml:SP',
        'entityID' => $sp['entity_id'],
        'idp' => $sp['idp_entity_id'],
    ],
];
