<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * Sends one HTTP request. Unit tests replace it with a stub.
 */
interface Transport
{
    /**
     * @param array<string,string> $headers header name => value
     * @return array{0:int,1:array<string,string>,2:string} [status, headers (lower-case names), body]
     * @throws ApiError with status 0 when no HTTP answer came back
     */
    public function send(string $method, string $url, array $headers, ?string $body): array;
}
