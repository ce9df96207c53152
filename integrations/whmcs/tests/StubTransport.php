<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

use OpenClaw\Whmcs\ApiError;
use OpenClaw\Whmcs\Transport;

/**
 * Answers from a script: each route "METHOD /path" (path without query unless the rule has
 * one) maps to a queue of answers; the last answer repeats. Records every request.
 */
final class StubTransport implements Transport
{
    /** @var list<array{method:string,url:string,path:string,headers:array,body:?string,json:mixed}> */
    public array $requests = [];
    /** @var array<string,list<array{0:int,1:array,2:string}|ApiError>> */
    private array $routes = [];

    public function on(string $method, string $path, int $status, mixed $json = null, array $headers = []): self
    {
        $body = $json === null ? '' : (is_string($json) ? $json : json_encode($json));
        $this->routes[strtoupper($method) . ' ' . $path][] = [$status, $headers, $body];
        return $this;
    }

    public function fail(string $method, string $path, string $message = "Failed to connect to api.test port 443: Couldn't connect to server", int $errno = 7): self
    {
        $this->routes[strtoupper($method) . ' ' . $path][] = ApiError::transport($message, $errno);
        return $this;
    }

    public function send(string $method, string $url, array $headers, ?string $body): array
    {
        $parts = parse_url($url);
        $path = $parts['path'] ?? '/';
        $full = $path . (isset($parts['query']) ? '?' . $parts['query'] : '');
        $this->requests[] = ['method' => $method, 'url' => $url, 'path' => $full, 'headers' => $headers, 'body' => $body,
            'json' => $body === null ? null : json_decode($body, true)];
        foreach ([$method . ' ' . $full, $method . ' ' . $path] as $key) {
            if (isset($this->routes[$key])) {
                $answer = count($this->routes[$key]) > 1 ? array_shift($this->routes[$key]) : $this->routes[$key][0];
                if ($answer instanceof ApiError) {
                    throw $answer;
                }
                return $answer;
            }
        }
        return [404, [], json_encode(['error' => ['code' => 'not_found', 'message' => 'no such endpoint; see /openapi.json', 'details' => null]])];
    }

    /** Requests matching METHOD and a path prefix. */
    public function calls(string $method, string $pathPrefix = ''): array
    {
        return array_values(array_filter($this->requests, static fn ($r) => $r['method'] === $method && str_starts_with($r['path'], $pathPrefix)));
    }
}
