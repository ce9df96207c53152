<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * A small client of the openclaw HTTP API.
 *
 * - every call is logged through $logger (WHMCS's logModuleCall), with the API key and any
 *   access link removed from what is logged and also passed as "replace vars";
 * - writes (POST, DELETE) always carry an Idempotency-Key;
 * - a request is retried (at most twice) only when that is safe: GETs, and writes with an
 *   Idempotency-Key, on a failed connection, 429, 502, 503 or 504 (Retry-After honoured up to 5 s).
 */
final class ApiClient
{
    public const MAX_RETRIES = 2;
    public const MAX_RETRY_WAIT = 5;
    private const RETRYABLE_STATUS = [429, 502, 503, 504];
    /** cURL errors where the request surely or safely did not run: couldn't connect, empty reply, recv failure. */
    private const RETRYABLE_ERRNO = [7, 52, 56];

    /** @var callable(string,mixed,mixed,mixed,array):void */
    private $logger;
    /** @var callable(int):void */
    private $sleeper;

    public function __construct(
        private readonly string $baseUrl,
        private readonly string $apiKey,
        private readonly Transport $transport,
        ?callable $logger = null,
        ?callable $sleeper = null,
    ) {
        $this->logger = $logger ?? static function (): void {
        };
        $this->sleeper = $sleeper ?? static function (int $seconds): void {
            if ($seconds > 0) {
                sleep($seconds);
            }
        };
    }

    public function baseUrl(): string
    {
        return $this->baseUrl;
    }

    /**
     * @param array<string,mixed>|null $body JSON body (null: none)
     * @return array<string,mixed> the decoded JSON answer ([] for an empty body)
     * @throws ApiError
     */
    public function request(string $method, string $path, ?array $body = null, ?string $idempotencyKey = null, string $action = ''): array
    {
        $method = strtoupper($method);
        $isWrite = $method !== 'GET' && $method !== 'HEAD';
        if ($isWrite && ($idempotencyKey === null || $idempotencyKey === '')) {
            $idempotencyKey = self::randomKey('whmcs');
        }
        $url = $this->baseUrl . $path;
        $headers = [
            'Accept' => 'application/json',
            'Authorization' => 'Bearer ' . $this->apiKey,
            'User-Agent' => 'openclaw-whmcs/' . (defined('OPENCLAW_VERSION') ? (string) constant('OPENCLAW_VERSION') : 'dev'),
        ];
        $payload = null;
        if ($body !== null) {
            try {
                $payload = json_encode($body, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
            } catch (\JsonException $e) {
                throw new ApiError(0, 'encode', 'could not encode the request as JSON: ' . $e->getMessage());
            }
            $headers['Content-Type'] = 'application/json';
        }
        if ($isWrite) {
            $headers['Idempotency-Key'] = (string) $idempotencyKey;
        }
        $action = $action !== '' ? $action : $method . ' ' . $path;
        $canRetry = !$isWrite || $idempotencyKey !== null;

        for ($attempt = 0; ; $attempt++) {
            $logRequest = ['method' => $method, 'url' => $url];
            if ($isWrite) {
                $logRequest['idempotency_key'] = $idempotencyKey;
            }
            if ($body !== null) {
                $logRequest['body'] = $body;
            }
            if ($attempt > 0) {
                $logRequest['attempt'] = $attempt + 1;
            }
            try {
                [$status, $respHeaders, $respBody] = $this->transport->send($method, $url, $headers, $payload);
            } catch (ApiError $e) {
                $this->log($action, $logRequest, 'transport error: ' . $e->getMessage(), null, []);
                if ($canRetry && $attempt < self::MAX_RETRIES && in_array($e->transportErrno, self::RETRYABLE_ERRNO, true)) {
                    ($this->sleeper)(1);
                    continue;
                }
                throw $e;
            }
            $respHeaders = array_change_key_case($respHeaders, CASE_LOWER);
            $decoded = null;
            $jsonError = null;
            if (trim($respBody) !== '') {
                try {
                    $decoded = json_decode($respBody, true, 64, JSON_THROW_ON_ERROR);
                } catch (\JsonException $e) {
                    $jsonError = $e->getMessage();
                }
            }
            $secrets = [];
            if (is_array($decoded) && isset($decoded['url']) && is_string($decoded['url'])) {
                $secrets[] = $decoded['url'];
                $hash = strpos($decoded['url'], '#');
                if ($hash !== false && $hash + 1 < strlen($decoded['url'])) {
                    $secrets[] = substr($decoded['url'], $hash + 1);
                }
            }
            $this->log($action, $logRequest, 'HTTP ' . $status . "\n" . $respBody, $decoded, $secrets);

            if ($status >= 200 && $status < 300) {
                if ($jsonError !== null) {
                    throw new ApiError($status, 'bad_json', 'openclaw answered with something that is not JSON: ' . $jsonError);
                }
                return is_array($decoded) ? $decoded : [];
            }
            $retryAfter = isset($respHeaders['retry-after']) && is_numeric($respHeaders['retry-after'])
                ? max(0, (int) $respHeaders['retry-after']) : null;
            if ($canRetry && $attempt < self::MAX_RETRIES && in_array($status, self::RETRYABLE_STATUS, true)
                && ($retryAfter === null || $retryAfter <= self::MAX_RETRY_WAIT)) {
                ($this->sleeper)($retryAfter ?? 1);
                continue;
            }
            $error = is_array($decoded) && isset($decoded['error']) && is_array($decoded['error']) ? $decoded['error'] : [];
            $code = isset($error['code']) && is_string($error['code']) ? $error['code'] : 'http_' . $status;
            $message = isset($error['message']) && is_string($error['message'])
                ? $error['message']
                : ($status . ' ' . substr(trim(strip_tags($respBody)), 0, 200));
            $details = isset($error['details']) && is_array($error['details']) ? $error['details'] : null;
            throw new ApiError($status, $code, $message, $details, $retryAfter);
        }
    }

    public static function randomKey(string $prefix): string
    {
        return $prefix . '-' . bin2hex(random_bytes(8));
    }

    /** @param list<string> $secrets */
    private function log(string $action, array $request, mixed $response, mixed $processed, array $secrets): void
    {
        $replace = array_values(array_filter(array_merge([$this->apiKey], $secrets), static fn ($s) => is_string($s) && $s !== ''));
        $request = self::redact($request, $replace);
        $response = self::redact($response, $replace);
        $processed = self::redact($processed, $replace);
        try {
            ($this->logger)($action, $request, $response, $processed, $replace);
        } catch (\Throwable) {
            // logging must never break an operation
        }
    }

    /** Replaces each secret by "***" in strings, recursively. */
    public static function redact(mixed $value, array $secrets): mixed
    {
        if (is_string($value)) {
            // longest first, so a URL is masked as a whole before its fragment
            usort($secrets, static fn ($a, $b) => strlen($b) <=> strlen($a));
            foreach ($secrets as $secret) {
                if ($secret !== '') {
                    $value = str_replace($secret, '***', $value);
                }
            }
            return $value;
        }
        if (is_array($value)) {
            foreach ($value as $k => $v) {
                $value[$k] = self::redact($v, $secrets);
            }
        }
        return $value;
    }
}
