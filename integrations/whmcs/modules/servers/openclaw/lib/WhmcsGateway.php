<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * Everything the module asks of WHMCS itself, so unit tests can stand in for it.
 *
 * A service record is what the module keeps per WHMCS service (table mod_openclaw):
 * ['instance_id' => ?string, 'status' => ?string, 'ipv4' => ?string, 'failure_notified' => bool]
 */
interface WhmcsGateway
{
    public function logModuleCall(string $action, mixed $request, mixed $response, mixed $processed, array $replaceVars): void;

    /** @return array<string,mixed> WHMCS's answer (['result' => 'success'|'error', ...]) */
    public function localApi(string $command, array $data): array;

    /** @return array{instance_id:?string,status:?string,ipv4:?string,failure_notified:bool} */
    public function loadService(int $serviceId): array;

    /** Merges $fields into the service's record. */
    public function saveService(int $serviceId, array $fields): void;

    /**
     * Services the cron sync looks at: instance still pending/provisioning/rolling_back, or
     * failed/rolled_back and not yet notified.
     * @return list<array{service_id:int,instance_id:string,status:?string,ipv4:?string,failure_notified:bool}>
     */
    public function servicesToWatch(): array;

    /** The server parameters (serverhostname, serverip, serversecure, serverport, serverpassword) of a service. */
    public function serverParams(int $serviceId): array;

    /** Sends the browser elsewhere (and ends the request in production). */
    public function redirect(string $url): void;
}
