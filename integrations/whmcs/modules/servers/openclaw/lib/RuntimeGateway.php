<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

use WHMCS\Database\Capsule;

/**
 * The production gateway, inside WHMCS: logModuleCall, localAPI, and the table mod_openclaw
 * (one row per service: instance id, last status seen, IPv4 written, failure e-mail sent),
 * made on first use through WHMCS's Capsule.
 */
final class RuntimeGateway implements WhmcsGateway
{
    public const TABLE = 'mod_openclaw';
    private bool $tableReady = false;

    public function logModuleCall(string $action, mixed $request, mixed $response, mixed $processed, array $replaceVars): void
    {
        if (function_exists('logModuleCall')) {
            \logModuleCall('openclaw', $action, $request, $response, $processed, $replaceVars);
        }
    }

    public function localApi(string $command, array $data): array
    {
        if (!function_exists('localAPI')) {
            return ['result' => 'error', 'message' => 'localAPI is not available'];
        }
        $r = \localAPI($command, $data);
        return is_array($r) ? $r : ['result' => 'error', 'message' => 'no answer'];
    }

    public function loadService(int $serviceId): array
    {
        $this->ensureTable();
        $row = Capsule::table(self::TABLE)->where('service_id', $serviceId)->first();
        return [
            'instance_id' => $row->instance_id ?? null,
            'status' => $row->status ?? null,
            'ipv4' => $row->ipv4 ?? null,
            'failure_notified' => (bool) ($row->failure_notified ?? false),
        ];
    }

    public function saveService(int $serviceId, array $fields): void
    {
        $this->ensureTable();
        $allowed = array_intersect_key($fields, array_flip(['instance_id', 'status', 'ipv4', 'failure_notified']));
        if (array_key_exists('failure_notified', $allowed)) {
            $allowed['failure_notified'] = $allowed['failure_notified'] ? 1 : 0;
        }
        $allowed['updated_at'] = date('Y-m-d H:i:s');
        $exists = Capsule::table(self::TABLE)->where('service_id', $serviceId)->exists();
        if ($exists) {
            Capsule::table(self::TABLE)->where('service_id', $serviceId)->update($allowed);
        } else {
            Capsule::table(self::TABLE)->insert(['service_id' => $serviceId] + $allowed);
        }
    }

    public function servicesToWatch(): array
    {
        $this->ensureTable();
        $rows = Capsule::table(self::TABLE)
            ->whereNotNull('instance_id')
            ->where(function ($q) {
                $q->whereIn('status', CronSync::WATCH_STATUSES)
                    ->orWhere(function ($q2) {
                        $q2->whereIn('status', CronSync::FAILED_STATUSES)->where('failure_notified', 0);
                    });
            })
            ->get();
        $out = [];
        foreach ($rows as $row) {
            $out[] = [
                'service_id' => (int) $row->service_id,
                'instance_id' => (string) $row->instance_id,
                'status' => $row->status,
                'ipv4' => $row->ipv4,
                'failure_notified' => (bool) $row->failure_notified,
            ];
        }
        return $out;
    }

    public function serverParams(int $serviceId): array
    {
        $row = Capsule::table('tblhosting')
            ->join('tblservers', 'tblservers.id', '=', 'tblhosting.server')
            ->where('tblhosting.id', $serviceId)
            ->select('tblservers.hostname', 'tblservers.ipaddress', 'tblservers.secure', 'tblservers.port', 'tblservers.password')
            ->first();
        if ($row === null) {
            return [];
        }
        $password = '';
        $dec = $this->localApi('DecryptPassword', ['password2' => (string) $row->password]);
        if (($dec['result'] ?? '') === 'success') {
            $password = (string) ($dec['password'] ?? '');
        }
        return [
            'serverhostname' => (string) $row->hostname,
            'serverip' => (string) $row->ipaddress,
            'serversecure' => (string) $row->secure,
            'serverport' => (string) ($row->port ?? ''),
            'serverpassword' => $password,
        ];
    }

    public function redirect(string $url): void
    {
        header('Cache-Control: no-store');
        header('Location: ' . $url, true, 302);
        exit;
    }

    private function ensureTable(): void
    {
        if ($this->tableReady) {
            return;
        }
        $schema = Capsule::schema();
        if (!$schema->hasTable(self::TABLE)) {
            $schema->create(self::TABLE, function ($table) {
                $table->unsignedInteger('service_id')->primary();
                $table->string('instance_id', 64)->nullable();
                $table->string('status', 32)->nullable();
                $table->string('ipv4', 64)->nullable();
                $table->boolean('failure_notified')->default(false);
                $table->dateTime('updated_at')->nullable();
            });
        }
        $this->tableReady = true;
    }
}
