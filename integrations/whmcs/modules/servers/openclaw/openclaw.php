<?php

/**
 * OpenClaw — WHMCS provisioning (server) module for managed OpenClaw instances.
 *
 * Every function returns 'success' or a sentence for the admin; none throws.
 */

declare(strict_types=1);

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

const OPENCLAW_VERSION = '0.1.0';

require_once __DIR__ . '/lib/autoload.php';

use OpenClaw\Whmcs\Module;

function openclaw_MetaData(): array
{
    return [
        'DisplayName' => 'OpenClaw',
        'APIVersion' => '1.1',
        'RequiresServer' => true,
        'DefaultNonSSLPort' => '8080',
        'DefaultSSLPort' => '443',
        'ServiceSingleSignOnLabel' => 'Open OpenClaw',
    ];
}

function openclaw_ConfigOptions(array $params = []): array
{
    $catalog = Module::catalog($params);
    return [
        'Plan' => [
            'Type' => 'dropdown',
            'Options' => implode(',', $catalog['plans']),
            'Default' => in_array('starter', $catalog['plans'], true) ? 'starter' : $catalog['plans'][0],
            'Description' => 'The openclaw plan (sizes the server)',
            'SimpleMode' => true,
        ],
        'Region' => [
            'Type' => 'dropdown',
            'Options' => implode(',', $catalog['regions']),
            'Default' => in_array('eu-west', $catalog['regions'], true) ? 'eu-west' : $catalog['regions'][0],
            'Description' => 'Where the server runs',
            'SimpleMode' => true,
        ],
    ];
}

function openclaw_TestConnection(array $params): array
{
    try {
        return Module::testConnection($params);
    } catch (\Throwable $e) {
        return ['success' => false, 'error' => Module::describe($e)];
    }
}

function openclaw_CreateAccount(array $params): string
{
    return openclaw_guard(static fn () => Module::create($params));
}

function openclaw_SuspendAccount(array $params): string
{
    return openclaw_guard(static fn () => Module::suspend($params));
}

function openclaw_UnsuspendAccount(array $params): string
{
    return openclaw_guard(static fn () => Module::unsuspend($params));
}

function openclaw_TerminateAccount(array $params): string
{
    return openclaw_guard(static fn () => Module::terminate($params));
}

function openclaw_ChangePackage(array $params): string
{
    return openclaw_guard(static fn () => Module::changePackage($params));
}

function openclaw_AdminServicesTabFields(array $params): array
{
    try {
        return Module::adminFields($params);
    } catch (\Throwable $e) {
        return ['OpenClaw' => htmlspecialchars(Module::describe($e), ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8')];
    }
}

function openclaw_AdminCustomButtonArray(): array
{
    return [
        'Refresh' => 'refresh',
        'Retry' => 'retry',
        'Roll back' => 'rollback',
        'Restart gateway' => 'restartgateway',
    ];
}

function openclaw_refresh(array $params): string
{
    return openclaw_guard(static fn () => Module::refresh($params));
}

function openclaw_retry(array $params): string
{
    return openclaw_guard(static fn () => Module::instanceAction($params, 'retry', 'Retry'));
}

function openclaw_rollback(array $params): string
{
    return openclaw_guard(static fn () => Module::instanceAction($params, 'rollback', 'Rollback'));
}

function openclaw_restartgateway(array $params): string
{
    return openclaw_guard(static fn () => Module::instanceAction($params, 'actions/restart', 'RestartGateway'));
}

function openclaw_ClientArea(array $params): array
{
    try {
        return Module::clientArea($params);
    } catch (\Throwable $e) {
        return ['templatefile' => 'templates/clientarea', 'vars' => ['status' => 'unknown', 'fqdn' => '', 'active' => false, 'error' => 'The status of this service cannot be read right now.']];
    }
}

function openclaw_ClientAreaCustomButtonArray(): array
{
    return ['Open OpenClaw' => 'openaccess'];
}

function openclaw_openaccess(array $params): string
{
    return openclaw_guard(static fn () => Module::openAccess($params));
}

function openclaw_ServiceSingleSignOn(array $params): array
{
    try {
        return Module::singleSignOn($params);
    } catch (\Throwable $e) {
        return ['success' => false, 'errorMsg' => Module::describe($e)];
    }
}

/** @param callable():string $fn */
function openclaw_guard(callable $fn): string
{
    try {
        return $fn();
    } catch (\Throwable $e) {
        return Module::describe($e);
    }
}
