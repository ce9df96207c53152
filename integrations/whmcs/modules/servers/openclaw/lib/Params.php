<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * Reads what the module needs out of WHMCS's $params.
 */
final class Params
{
    public const DEFAULT_PLAN = 'starter';
    public const DEFAULT_REGION = 'eu-west';

    /** The API's base URL, e.g. https://api.example.com or http://10.0.0.5:8080. */
    public static function baseUrl(array $params): string
    {
        $host = self::str($params, 'serverhostname');
        if ($host === '') {
            $host = self::str($params, 'serverip');
        }
        if ($host === '') {
            throw new ConfigError('No openclaw server is set for this service: add one in Setup → Products/Services → Servers (hostname = the API host, host[:port]) and put it in the product\'s server group');
        }
        $secure = self::truthy($params['serversecure'] ?? false);
        if (preg_match('#^(https?)://#i', $host, $m)) {
            $secure = strtolower($m[1]) === 'https';
            $host = substr($host, strlen($m[0]));
        }
        $host = rtrim($host, '/');
        if (str_contains($host, '/') || preg_match('/\s/', $host)) {
            throw new ConfigError("The server hostname '" . $host . "' is not a host[:port]: put only the API host (and port) in Setup → Servers");
        }
        $port = self::str($params, 'serverport');
        $hasPort = preg_match('/:\d+$/', $host) === 1 && substr_count($host, ':') === 1 || preg_match('/\]:\d+$/', $host) === 1;
        if ($port !== '' && ctype_digit($port) && !$hasPort) {
            $default = $secure ? '443' : '80';
            if ($port !== $default) {
                $host .= ':' . $port;
            }
        }
        return ($secure ? 'https' : 'http') . '://' . $host;
    }

    public static function apiKey(array $params): string
    {
        $key = self::str($params, 'serverpassword');
        if ($key === '') {
            throw new ConfigError('No API key: put an openclaw API key with the manage scope (openclaw keys create --name whmcs --scope manage) in the server\'s Password field');
        }
        return $key;
    }

    public static function serviceId(array $params): int
    {
        $id = $params['serviceid'] ?? null;
        if (!is_numeric($id) || (int) $id <= 0) {
            throw new ConfigError('No service id in the module parameters');
        }
        return (int) $id;
    }

    public static function clientId(array $params): string
    {
        $id = $params['userid'] ?? ($params['clientsdetails']['userid'] ?? ($params['clientsdetails']['id'] ?? null));
        if (!is_scalar($id) || (string) $id === '' || (string) $id === '0') {
            throw new ConfigError('No client id in the module parameters');
        }
        return (string) $id;
    }

    public static function plan(array $params): string
    {
        $plan = self::str($params, 'configoption1');
        return $plan !== '' ? $plan : self::DEFAULT_PLAN;
    }

    public static function region(array $params): string
    {
        $region = self::str($params, 'configoption2');
        return $region !== '' ? $region : self::DEFAULT_REGION;
    }

    public static function str(array $params, string $key): string
    {
        $v = $params[$key] ?? '';
        return is_scalar($v) ? trim((string) $v) : '';
    }

    public static function truthy(mixed $v): bool
    {
        if (is_bool($v)) {
            return $v;
        }
        if (is_int($v)) {
            return $v !== 0;
        }
        if (is_string($v)) {
            return in_array(strtolower(trim($v)), ['1', 'on', 'true', 'yes'], true);
        }
        return false;
    }
}
