<?php
// Router for PHP's built-in server: /whoami shows what SimpleSAMLphp's session holds, as JSON;
// every other path is SimpleSAMLphp's own (the server's document root is its www folder).
if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/whoami') {
    return false;
}

require_once '/usr/share/simplesamlphp/lib/_autoload.php';

$as = new \SimpleSAML\Auth\Simple('default-sp');
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
    'attributes' => $as->getAttributes(),
], JSON_UNESCAPED_SLASHES);
return true;
