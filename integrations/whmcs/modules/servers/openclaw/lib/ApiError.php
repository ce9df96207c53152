<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * An error from the openclaw API, or from reaching it.
 *
 * status 0 means no HTTP answer at all (connection refused, DNS, timeout): then
 * errorCode is "transport" and the message is cURL's.
 */
final class ApiError extends \RuntimeException
{
    public function __construct(
        public readonly int $status,
        public readonly string $errorCode,
        string $message,
        public readonly ?array $details = null,
        public readonly ?int $retryAfter = null,
        public readonly int $transportErrno = 0,
    ) {
        parent::__construct($message, $status);
    }

    public static function transport(string $message, int $errno = 0): self
    {
        return new self(0, 'transport', $message, null, null, $errno);
    }

    public function isTransport(): bool
    {
        return $this->status === 0;
    }

    /** A 404/405 for a route this server does not have (not "no such instance"). */
    public function isUnknownRoute(): bool
    {
        if ($this->status === 405) {
            return true;
        }
        if ($this->status !== 404) {
            return false;
        }
        if (isset($this->details['kind'])) {
            return false; // a missing resource (e.g. {"kind":"instance"}), the route exists
        }
        return stripos($this->getMessage(), 'endpoint') !== false
            || stripos($this->getMessage(), 'route') !== false;
    }
}
