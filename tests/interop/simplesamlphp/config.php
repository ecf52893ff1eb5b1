<?php
// SimpleSAMLphp's configuration for one test run: Debian's stock /etc/simplesamlphp/config.php,
// with everything that touches the machine (URLs, folders, logging, cookies) moved into this
// private folder. The values come from sp.json, written beside this file by test_simplesamlphp.py.
$sp = json_decode(file_get_contents(__DIR__ . '/sp.json'), true, 512, JSON_THROW_ON_ERROR);

require '/etc/simplesamlphp/config.php';

$config = array_merge($config, [
    'baseurlpath' => $sp['base_url'] . '/',
    'secretsalt' => $sp['secret_salt'],
    'auth.adminpassword' => $sp['secret_salt'],
    'technicalcontact_email' => 'interop@example.org',
    'timezone' => 'UTC',
    'tempdir' => $sp['folder'] . '/tmp',
    'datadir' => $sp['folder'] . '/data',
    'loggingdir' => $sp['folder'] . '/log',
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'session.cookie.secure' => false,
    'session.phpsession.savepath' => $sp['folder'] . '/sessions',
    'metadatadir' => $sp['folder'] . '/metadata',
    // The IdP, exactly as the SSO application's metadata describes it, once the app exists.
    'metadata.sources' => is_file($sp['folder'] . '/idp-metadata.xml')
        ? [['type' => 'xml', 'file' => $sp['folder'] . '/idp-metadata.xml']]
        : [],
]);
