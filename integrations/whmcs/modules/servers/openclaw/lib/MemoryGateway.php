<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * A gateway that keeps service records in memory and hands logModuleCall / localAPI to the
 * global WHMCS functions when they exist (unit tests define recording stubs of them).
 * For tests and end-to-end runs outside WHMCS.
 */
final class MemoryGateway implements WhmcsGateway
{
    /** @var array<int,array<string,mixed>> */
    public array $services = [];
    /** @var array<int,array<string,mixed>> */
    public array $servers = [];
    /** @var list<string> */
    public array $redirects = [];
    /** @var list<array{0:string,1:array}> */
    public array $apiCalls = [];
    /** @var array<string,array> canned localAPI answers by command */
    public array $apiAnswers = [];

    public function logModuleCall(string $action, mixed $request, mixed $response, mixed $processed, array $replaceVars): void
    {
        if (function_exists('logModuleCall')) {
            \logModuleCall('openclaw', $action, $request, $response, $processed, $replaceVars);
        }
    }

    public function localApi(string $command, array $data): array
    {
        $this->apiCalls[] = [$command, $data];
        if (isset($this->apiAnswers[$command])) {
            return $this->apiAnswers[$command];
        }
        if (function_exists('localAPI')) {
            $r = \localAPI($command, $data);
            return is_array($r) ? $r : ['result' => 'error', 'message' => 'no answer'];
        }
        return ['result' => 'success'];
    }

    public function loadService(int $serviceId): array
    {
        return ($this->services[$serviceId] ?? []) + ['instance_id' => null, 'status' => null, 'ipv4' => null, 'failure_notified' => false];
    }

    public function saveService(int $serviceId, array $fields): void
    {
        $this->services[$serviceId] = array_merge($this->loadService($serviceId), $fields);
    }

    public function servicesToWatch(): array
    {
        $out = [];
        foreach ($this->services as $id => $rec) {
            $rec = $this->loadService($id);
            if (CronSync::shouldWatch($rec)) {
                $out[] = ['service_id' => $id] + $rec;
            }
        }
        return $out;
    }

    public function serverParams(int $serviceId): array
    {
        return $this->servers[$serviceId] ?? [];
    }

    public function redirect(string $url): void
    {
        $this->redirects[] = $url;
    }
}
