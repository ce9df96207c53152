<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * The openclaw server's subdomain rules (its OpenAPI pattern for CreateInstanceRequest.subdomain):
 * lowercase letters, digits and inner hyphens, 1-63 characters, no "--" in third and fourth
 * place, not a reserved name.
 */
final class Subdomain
{
    public const RESERVED = [
        'www', 'api', 'admin', 'app', 'mail', 'smtp', 'imap', 'pop', 'ftp', 'ns', 'ns1', 'ns2', 'dns',
        'mx', 'status', 'support', 'help', 'billing', 'whmcs', 'dashboard', 'console', 'control',
        'static', 'cdn', 'assets', 'auth', 'login', 'sso', 'root', 'openclaw', 'localhost',
        'autodiscover', 'autoconfig',
    ];

    /**
     * The wanted subdomain of a service: the "Subdomain" custom field when filled in, else the
     * first label of the service's domain. Lower-cased and trimmed (DNS names are case-insensitive).
     */
    public static function fromParams(array $params): string
    {
        $custom = $params['customfields']['Subdomain'] ?? '';
        $value = is_scalar($custom) ? trim((string) $custom) : '';
        if ($value === '') {
            $domain = is_scalar($params['domain'] ?? null) ? trim((string) $params['domain']) : '';
            $domain = (string) preg_replace('#^[a-z][a-z0-9+.-]*://#i', '', $domain);
            $value = explode('.', $domain, 2)[0];
        }
        return strtolower($value);
    }

    /** Null when valid, else why not (for a person). */
    public static function validate(string $name): ?string
    {
        if ($name === '') {
            return 'no subdomain: fill in the "Subdomain" field of the order (or the service\'s domain)';
        }
        if (strlen($name) > 63) {
            return "the subdomain '" . $name . "' is longer than 63 characters";
        }
        if (!preg_match('/^[a-z0-9-]+$/', $name)) {
            return "the subdomain '" . $name . "' may only hold lowercase letters, digits and hyphens";
        }
        if ($name[0] === '-' || $name[strlen($name) - 1] === '-') {
            return "the subdomain '" . $name . "' may not start or end with a hyphen";
        }
        if (strlen($name) >= 4 && substr($name, 2, 2) === '--') {
            return "the subdomain '" . $name . "' may not have '--' in third and fourth place";
        }
        if (in_array($name, self::RESERVED, true)) {
            return "the subdomain '" . $name . "' is reserved; choose another";
        }
        return null;
    }
}
