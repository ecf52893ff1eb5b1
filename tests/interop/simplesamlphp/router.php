<?php
// Router for PHP's built-in server: /whoami shows what SimpleSAMLphp's session holds, as JSON (401
// without a session); /secure does the same after requireAuth(), which sends a browser without a
// session to the IdP first (SP-initiated); /logout starts single logout at the IdP and comes back to
// /whoami. Every other path is SimpleSAMLphp's own (the server's document root is its www folder).
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/whoami' && $path !== '/secure' && $path !== '/logout') {
    return false;
}

require_once '/usr/share/simplesamlphp/lib/_autoload.php';

$as = new \SimpleSAML\Auth\Simple('default-sp');
if ($path === '/logout') {
    $as->logout(\SimpleSAML\Utils\HTTP::getSelfURLHost() . '/whoami');
}
if ($path === '/secure') {
    $as->requireAuth();
}
header('Content-Type: application/json');
header('Cache-Control: no-store');
if (!$as->isAuthenticated()) {
    http_response_code(401);
    echo json_encode(['authenticated' => false]);
    return true;
}
$nameId = $as->getAuthData('saml:sp:NameID');
echo json_encode([
    'authenticated' => true,
    'idp' => $as->getAuthData('saml:sp:IdP'),
    'name_id' => $nameId->getValue(),
    'name_id_format' => $nameId->getFormat(),
    'authn_context' => $as->getAuthData('saml:sp:AuthnContext'),
    'attributes' => $as->getAttributes(),
], JSON_UNESCAPED_SLASHES);
return true;
