<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * What the AfterCronJob hook does: for each service whose instance is still being provisioned,
 * read the instance; write its IPv4 to the service's dedicated IP once it has one; when it ends
 * failed or rolled_back, add an admin to-do, log it, and e-mail the customer once.
 */
final class CronSync
{
    public const WATCH_STATUSES = ['pending', 'provisioning', 'rolling_back'];
    public const FAILED_STATUSES = ['failed', 'rolled_back'];
    public const FAILURE_EMAIL = 'OpenClaw Provisioning Failed';

    /** @var callable(array):ApiClient */
    private $clientFactory;

    public function __construct(private readonly WhmcsGateway $gw, ?callable $clientFactory = null)
    {
        $this->clientFactory = $clientFactory ?? static fn (array $serverParams): ApiClient => Module::client($serverParams);
    }

    public static function shouldWatch(array $rec): bool
    {
        if (!is_string($rec['instance_id'] ?? null) || $rec['instance_id'] === '') {
            return false;
        }
        $status = $rec['status'] ?? null;
        return in_array($status, self::WATCH_STATUSES, true)
            || (in_array($status, self::FAILED_STATUSES, true) && empty($rec['failure_notified']));
    }

    /** @return array{checked:int,ips:int,failures:int,errors:int} */
    public function run(): array
    {
        $stats = ['checked' => 0, 'ips' => 0, 'failures' => 0, 'errors' => 0];
        foreach ($this->gw->servicesToWatch() as $rec) {
            $sid = (int) $rec['service_id'];
            try {
                $this->syncOne($sid, $rec, $stats);
            } catch (\Throwable $e) {
                $stats['errors']++;
                $this->gw->logModuleCall('CronSync', ['serviceid' => $sid], Module::describe($e), null, []);
            }
        }
        return $stats;
    }

    private function syncOne(int $sid, array $rec, array &$stats): void
    {
        $api = ($this->clientFactory)($this->gw->serverParams($sid));
        $stats['checked']++;
        try {
            $inst = $api->request('GET', '/v1/instances/' . rawurlencode((string) $rec['instance_id']), null, null, 'CronSync');
        } catch (ApiError $e) {
            if ($e->status === 404) {
                $this->gw->saveService($sid, ['status' => 'terminated']);
                return;
            }
            throw $e;
        }
        $status = is_string($inst['status'] ?? null) ? $inst['status'] : null;
        $ipv4 = $inst['resources']['ipv4'] ?? null;
        $save = ['status' => $status];
        if (is_string($ipv4) && $ipv4 !== '' && $ipv4 !== ($rec['ipv4'] ?? null)) {
            $r = $this->gw->localApi('UpdateClientProduct', ['serviceid' => $sid, 'dedicatedip' => $ipv4]);
            if (($r['result'] ?? '') === 'success') {
                $save['ipv4'] = $ipv4;
                $stats['ips']++;
            } else {
                $this->gw->logModuleCall('CronSync UpdateClientProduct', ['serviceid' => $sid, 'dedicatedip' => $ipv4], $r, null, []);
            }
        }
        if (in_array($status, self::FAILED_STATUSES, true) && empty($rec['failure_notified'])) {
            $err = is_array($inst['last_error'] ?? null) ? $inst['last_error'] : [];
            $why = trim(($err['code'] ?? '') . ': ' . ($err['message'] ?? ''), ': ');
            $title = 'OpenClaw instance ' . $status . ' for service #' . $sid;
            $description = 'Instance ' . $rec['instance_id'] . ' (' . ($inst['fqdn'] ?? '') . ') is ' . $status
                . ($why !== '' ? ': ' . $why : '') . '. Use the Retry or Roll back button on the service, or terminate it.';
            $this->gw->localApi('AddToDo', [
                'title' => $title,
                'description' => $description,
                'status' => 'Pending',
                'date' => date('Y-m-d'),
                'duedate' => date('Y-m-d'),
            ]);
            $this->gw->logModuleCall('ProvisioningFailed', ['serviceid' => $sid, 'instance' => $rec['instance_id']], $inst, $description, []);
            $mail = $this->gw->localApi('SendEmail', ['messagename' => self::FAILURE_EMAIL, 'id' => $sid]);
            if (($mail['result'] ?? '') !== 'success') {
                $this->gw->logModuleCall('SendEmail', ['messagename' => self::FAILURE_EMAIL, 'id' => $sid], $mail, null, []);
            }
            $save['failure_notified'] = true; // once, even if the mail template is missing (the to-do is there)
            $stats['failures']++;
        }
        $this->gw->saveService($sid, $save);
    }
}
