<?php

declare(strict_types=1);

/*
 * Stubs of the WHMCS globals the module uses; each records its calls in $GLOBALS['whmcs_calls'].
 */

define('WHMCS', true);

$GLOBALS['whmcs_calls'] = ['logModuleCall' => [], 'localAPI' => [], 'add_hook' => []];
$GLOBALS['whmcs_localapi_answers'] = [];

function logModuleCall($module, $action, $request, $response, $processed = '', $replaceVars = []): void
{
    $GLOBALS['whmcs_calls']['logModuleCall'][] = compact('module', 'action', 'request', 'response', 'processed', 'replaceVars');
}

function localAPI($command, $values = [], $adminUser = ''): array
{
    $GLOBALS['whmcs_calls']['localAPI'][] = ['command' => $command, 'values' => $values];
    return $GLOBALS['whmcs_localapi_answers'][$command] ?? ['result' => 'success'];
}

function add_hook($hookPoint, $priority, $function): void
{
    $GLOBALS['whmcs_calls']['add_hook'][] = ['hook' => $hookPoint, 'priority' => $priority, 'function' => $function];
}

require_once __DIR__ . '/../modules/servers/openclaw/openclaw.php';
require_once __DIR__ . '/StubTransport.php';
require_once __DIR__ . '/TestCase.php';
