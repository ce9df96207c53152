<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/**
 * The module's logic; openclaw.php's functions call it and turn every failure into a string.
 *
 * Seams for tests and end-to-end runs: Module::setGateway(), Module::setTransport(),
 * Module::setSleeper(). Module::reset() restores the production ones.
 */
final class Module
{
    public const DEFAULT_PLANS = ['starter', 'professional', 'enterprise'];
    public const DEFAULT_REGIONS = ['eu-west', 'us-east', 'asia-pacific'];
    public const PLAN_CHANGE_UNSUPPORTED = 'Plan changes are not supported by this openclaw server: upgrade it to a version with POST /v1/instances/{id}/plan';
    private const LIVE_GONE = ['terminated'];

    private static ?WhmcsGateway $gateway = null;
    private static ?Transport $transport = null;
    /** @var callable|null */
    private static $sleeper = null;

    public static function setGateway(?WhmcsGateway $gateway): void
    {
        self::$gateway = $gateway;
    }

    public static function setTransport(?Transport $transport): void
    {
        self::$transport = $transport;
    }

    public static function setSleeper(?callable $sleeper): void
    {
        self::$sleeper = $sleeper;
    }

    public static function reset(): void
    {
        self::$gateway = null;
        self::$transport = null;
        self::$sleeper = null;
    }

    public static function gateway(): WhmcsGateway
    {
        return self::$gateway ??= new RuntimeGateway();
    }

    /** A client for the server of $params; throws ConfigError when host or key are missing. */
    public static function client(array $params, ?Transport $transport = null): ApiClient
    {
        $base = Params::baseUrl($params);
        $key = Params::apiKey($params);
        $gw = self::gateway();
        return new ApiClient(
            $base,
            $key,
            $transport ?? self::$transport ?? new CurlTransport(),
            static function (string $action, mixed $req, mixed $resp, mixed $proc, array $replace) use ($gw): void {
                $gw->logModuleCall($action, $req, $resp, $proc, $replace);
            },
            self::$sleeper,
        );
    }

    // ---- errors -------------------------------------------------------------------------

    /** An ApiError or ConfigError as a sentence an admin can act on. */
    public static function describe(\Throwable $e, string $baseUrl = ''): string
    {
        if ($e instanceof ConfigError) {
            return $e->getMessage();
        }
        if (!$e instanceof ApiError) {
            return 'Unexpected error in the openclaw module: ' . $e->getMessage();
        }
        $msg = $e->getMessage();
        return match (true) {
            $e->isTransport() => 'Cannot reach openclaw at ' . $baseUrl . ': ' . $msg,
            $e->status === 401 => 'The API key was refused by openclaw at ' . $baseUrl . ' (' . $msg . '): put a valid key in the server\'s Password field (Setup → Products/Services → Servers)',
            $e->status === 403 => 'The API key lacks the manage scope: make one with `openclaw keys create --scope manage` (openclaw said: ' . $msg . ')',
            $e->status === 429 => 'openclaw is rate limiting this API key; try again in ' . ($e->retryAfter ?? 1) . ' s (' . $msg . ')',
            $e->status === 422 => 'openclaw refused the request: ' . $msg
                . (isset($e->details['field']) && is_string($e->details['field']) ? ' (field ' . $e->details['field'] . ')' : ''),
            $e->status === 409 && $e->errorCode === 'invalid_transition' => 'openclaw refused: ' . $msg,
            $e->status >= 500 => 'openclaw at ' . $baseUrl . ' failed (' . $e->status . ' ' . $e->errorCode . '): ' . $msg,
            default => 'openclaw answered ' . $e->status . ' ' . $e->errorCode . ': ' . $msg,
        };
    }

    // ---- instance lookup ----------------------------------------------------------------

    /**
     * The instance of a service: the stored id first (checked on the server), else the one whose
     * external_ref is the service id. Null when there is none (or only a terminated one).
     * @return array<string,mixed>|null
     */
    public static function findInstance(ApiClient $api, int $serviceId, bool $includeTerminated = false): ?array
    {
        $gw = self::gateway();
        $rec = $gw->loadService($serviceId);
        if (is_string($rec['instance_id']) && $rec['instance_id'] !== '') {
            try {
                $inst = $api->request('GET', '/v1/instances/' . rawurlencode($rec['instance_id']), null, null, 'GetInstance');
                self::remember($serviceId, $inst);
                if ($includeTerminated || !in_array($inst['status'] ?? '', self::LIVE_GONE, true)) {
                    return $inst;
                }
            } catch (ApiError $e) {
                if ($e->status !== 404) {
                    throw $e;
                }
            }
        }
        $page = $api->request('GET', '/v1/instances?external_ref=' . rawurlencode((string) $serviceId) . '&limit=50', null, null, 'FindInstance');
        $found = null;
        foreach (($page['items'] ?? []) as $item) {
            if (!is_array($item) || (string) ($item['external_ref'] ?? '') !== (string) $serviceId) {
                continue;
            }
            if (!in_array($item['status'] ?? '', self::LIVE_GONE, true)) {
                $found = $item; // a live one wins
                break;
            }
            if ($includeTerminated) {
                $found = $item;
            }
        }
        if ($found !== null) {
            self::remember($serviceId, $found);
        }
        return $found;
    }

    /** Keeps the instance id and status with the service. */
    public static function remember(int $serviceId, array $inst): void
    {
        $fields = [];
        if (isset($inst['id']) && is_string($inst['id'])) {
            $fields['instance_id'] = $inst['id'];
        }
        if (isset($inst['status']) && is_string($inst['status'])) {
            $fields['status'] = $inst['status'];
        }
        if ($fields !== []) {
            self::gateway()->saveService($serviceId, $fields);
        }
    }

    /** @return array{0:ApiClient,1:int,2:string} client, service id, instance id (throws when none) */
    private static function requireInstance(array $params): array
    {
        $api = self::client($params);
        $sid = Params::serviceId($params);
        $inst = self::findInstance($api, $sid);
        if ($inst === null) {
            throw new ConfigError('No openclaw instance is recorded for service #' . $sid . ' (none with external_ref ' . $sid . ' on the server): run Create first');
        }
        return [$api, $sid, (string) $inst['id']];
    }

    // ---- operations ---------------------------------------------------------------------

    public static function create(array $params): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            Params::apiKey($params);
            $sid = Params::serviceId($params);
            $customer = Params::clientId($params);
            $subdomain = Subdomain::fromParams($params);
            $why = Subdomain::validate($subdomain);
            if ($why !== null) {
                return 'Invalid subdomain: ' . $why;
            }
            $api = self::client($params);
            $previous = self::findInstance($api, $sid, true);
            if ($previous !== null && !in_array($previous['status'] ?? '', self::LIVE_GONE, true)) {
                return 'success'; // already ordered: never a second instance
            }
            $body = [
                'customer_id' => $customer,
                'subdomain' => $subdomain,
                'plan' => Params::plan($params),
                'region' => Params::region($params),
                'external_ref' => (string) $sid,
            ];
            $inst = $api->request('POST', '/v1/instances', $body, self::createKey($sid, $body, $previous['id'] ?? null), 'CreateAccount');
            self::gateway()->saveService($sid, ['failure_notified' => false, 'ipv4' => null]);
            self::remember($sid, $inst);
            return 'success';
        } catch (ApiError $e) {
            if ($e->status === 409 && $e->errorCode !== 'idempotency_conflict'
                && (stripos($e->getMessage(), 'fqdn') !== false || stripos($e->getMessage(), 'subdomain') !== false)) {
                return "The subdomain '" . ($subdomain ?? '') . "' is already taken by another openclaw instance: change the service's Subdomain field and run Create again (" . $e->getMessage() . ')';
            }
            return self::describe($e, $base);
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    /**
     * The create Idempotency-Key: stable for one service and one order (so a repeated Create
     * replays the first answer), different when the order changes (a new subdomain after a 409)
     * or when a terminated instance is being replaced.
     */
    public static function createKey(int $serviceId, array $body, ?string $previousId): string
    {
        $hash = substr(hash('sha256', json_encode($body, JSON_UNESCAPED_SLASHES) . '|' . ($previousId ?? '')), 0, 16);
        return 'whmcs-service-' . $serviceId . '-create-' . $hash;
    }

    public static function suspend(array $params): string
    {
        return self::transition($params, 'suspend', ['suspending', 'suspended'], 'SuspendAccount');
    }

    public static function unsuspend(array $params): string
    {
        return self::transition($params, 'unsuspend', ['unsuspending', 'active'], 'UnsuspendAccount');
    }

    /** POST /v1/instances/{id}/<verb>; a 409 while already in (or going to) the wanted state is success. */
    private static function transition(array $params, string $verb, array $doneStates, string $action): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            [$api, $sid, $id] = self::requireInstance($params);
            try {
                $inst = $api->request('POST', '/v1/instances/' . rawurlencode($id) . '/' . $verb, null, ApiClient::randomKey('whmcs-service-' . $sid . '-' . $verb), $action);
                self::remember($sid, $inst);
                return 'success';
            } catch (ApiError $e) {
                if ($e->status === 409) {
                    $now = $api->request('GET', '/v1/instances/' . rawurlencode($id), null, null, 'GetInstance');
                    self::remember($sid, $now);
                    if (in_array($now['status'] ?? '', $doneStates, true)) {
                        return 'success';
                    }
                }
                throw $e;
            }
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    public static function terminate(array $params): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            $api = self::client($params);
            $sid = Params::serviceId($params);
            $inst = self::findInstance($api, $sid);
            if ($inst === null) {
                return 'success'; // nothing to terminate
            }
            $id = (string) $inst['id'];
            try {
                $out = $api->request('DELETE', '/v1/instances/' . rawurlencode($id), null, 'whmcs-service-' . $sid . '-terminate-' . $id, 'TerminateAccount');
                self::remember($sid, $out);
            } catch (ApiError $e) {
                if ($e->status === 404) {
                    self::gateway()->saveService($sid, ['status' => 'terminated']);
                    return 'success';
                }
                if ($e->status === 409) {
                    $now = $api->request('GET', '/v1/instances/' . rawurlencode($id), null, null, 'GetInstance');
                    self::remember($sid, $now);
                    if (in_array($now['status'] ?? '', ['terminating', 'terminated'], true)) {
                        return 'success';
                    }
                }
                throw $e;
            }
            return 'success';
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    /**
     * ChangePackage: moves the instance to the plan now set on the product (configoption1).
     * Accepted (202) is success: the server powers the instance off, changes its server type
     * keeping the disk, and powers it on again (a suspended one stays suspended); the admin
     * tab shows `resizing` meanwhile, and the plan once it is done. Asking for the plan the
     * instance has (or is moving to) is success too. A fresh Idempotency-Key per call: a
     * later change back to the same plan is a new change, not a replay of the old one.
     */
    public static function changePackage(array $params): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            [$api, $sid, $id] = self::requireInstance($params);
            $plan = Params::plan($params);
            try {
                $out = $api->request('POST', '/v1/instances/' . rawurlencode($id) . '/plan', ['plan' => $plan], ApiClient::randomKey('whmcs-service-' . $sid . '-plan-' . $plan), 'ChangePackage');
                self::remember($sid, $out);
                return 'success';
            } catch (ApiError $e) {
                if ($e->isUnknownRoute()) {
                    return self::PLAN_CHANGE_UNSUPPORTED;
                }
                if ($e->status === 409 && $e->errorCode === 'conflict') {
                    // A smaller disk than the instance's, or another change still running:
                    // the server's sentence says which.
                    return 'openclaw cannot move this service to plan ' . $plan . ' now: ' . $e->getMessage();
                }
                if ($e->status === 422 && ($e->details['field'] ?? null) === 'plan') {
                    return 'openclaw refused plan ' . $plan . ': ' . $e->getMessage() . ' (set a plan the server offers in the product\'s Module Settings)';
                }
                throw $e;
            }
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    /** Admin buttons: retry, rollback, restart (an action POST on the instance). */
    public static function instanceAction(array $params, string $path, string $action, ?array $body = null): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            [$api, $sid, $id] = self::requireInstance($params);
            $out = $api->request('POST', '/v1/instances/' . rawurlencode($id) . '/' . $path, $body, ApiClient::randomKey('whmcs-service-' . $sid . '-' . str_replace('/', '-', $path)), $action);
            if ($path === 'retry') {
                self::gateway()->saveService($sid, ['failure_notified' => false]);
            }
            if (isset($out['status']) && isset($out['fqdn'])) {
                self::remember($sid, $out); // an instance (not a task)
            }
            return 'success';
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    public static function refresh(array $params): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            self::requireInstance($params);
            return 'success';
        } catch (\Throwable $e) {
            return self::describe($e, $base);
        }
    }

    /** @return array{success:bool,error:string} */
    public static function testConnection(array $params): array
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            $api = self::client($params);
            // key valid (read): a one-item listing
            $api->request('GET', '/v1/instances?limit=1', null, null, 'TestConnection');
            // manage scope: suspending the nil instance changes nothing; 404 means the key may manage
            try {
                $api->request('POST', '/v1/instances/00000000-0000-0000-0000-000000000000/suspend', null, ApiClient::randomKey('whmcs-testconnection'), 'TestConnectionScope');
            } catch (ApiError $e) {
                if ($e->status !== 404) {
                    throw $e;
                }
            }
            return ['success' => true, 'error' => ''];
        } catch (\Throwable $e) {
            return ['success' => false, 'error' => self::describe($e, $base)];
        }
    }

    /**
     * Plans and regions: from the server's /openapi.json (the catalog of the deployment is in the
     * CreateInstanceRequest schema), with a short timeout; the defaults when that fails.
     * @return array{plans:list<string>,regions:list<string>,source:string}
     */
    public static function catalog(array $params): array
    {
        $fallback = ['plans' => self::DEFAULT_PLANS, 'regions' => self::DEFAULT_REGIONS, 'source' => 'defaults'];
        if (Params::str($params, 'serverhostname') === '' && Params::str($params, 'serverip') === '') {
            return $fallback;
        }
        try {
            $api = self::client($params, self::$transport ?? new CurlTransport(2, 4));
            $doc = $api->request('GET', '/openapi.json', null, null, 'Catalog');
            $props = $doc['components']['schemas']['CreateInstanceRequest']['properties'] ?? [];
            $plans = self::stringList($props['plan']['enum'] ?? null);
            $regions = self::stringList($props['region']['enum'] ?? null);
            if ($plans === [] || $regions === []) {
                return $fallback;
            }
            return ['plans' => $plans, 'regions' => $regions, 'source' => 'server'];
        } catch (\Throwable) {
            return $fallback;
        }
    }

    /** @return list<string> */
    private static function stringList(mixed $v): array
    {
        if (!is_array($v)) {
            return [];
        }
        $out = [];
        foreach ($v as $x) {
            if (is_string($x) && $x !== '') {
                $out[] = $x;
            }
        }
        return $out;
    }

    /** @return array<string,string> label => HTML (escaped) */
    public static function adminFields(array $params): array
    {
        $h = static fn ($v): string => htmlspecialchars(is_scalar($v) ? (string) $v : '', ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
        $base = '';
        try {
            $base = Params::baseUrl($params);
            $api = self::client($params);
            $sid = Params::serviceId($params);
            $inst = self::findInstance($api, $sid, true);
            if ($inst === null) {
                return ['OpenClaw' => 'No instance yet for this service (Create has not run, or it failed before openclaw accepted the order).'];
            }
            $res = is_array($inst['resources'] ?? null) ? $inst['resources'] : [];
            $err = is_array($inst['last_error'] ?? null) ? $inst['last_error'] : null;
            $fields = [
                'Instance ID' => $h($inst['id'] ?? ''),
                'Status' => $h($inst['status'] ?? '') . (isset($inst['pending_request']) && is_string($inst['pending_request']) ? ' (' . $h($inst['pending_request']) . ' requested)' : ''),
                'FQDN' => $h($inst['fqdn'] ?? ''),
                'Plan / Region' => $h($inst['plan'] ?? '') . ' / ' . $h($inst['region'] ?? ''),
                'IPv4' => $h($res['ipv4'] ?? '—'),
                'IPv6' => $h($res['ipv6'] ?? '—'),
                'Last error' => $err === null ? '—' : $h(($err['operation'] ?? '') . ': ' . ($err['code'] ?? '') . ' — ' . ($err['message'] ?? '')),
            ];
            try {
                $events = $api->request('GET', '/v1/instances/' . rawurlencode((string) $inst['id']) . '/events', null, null, 'InstanceEvents');
                $items = array_slice(array_values(array_filter($events['items'] ?? [], 'is_array')), -10);
                $lines = [];
                foreach (array_reverse($items) as $ev) {
                    $kind = $ev['kind'] ?? [];
                    $what = is_array($kind) ? (($kind['type'] ?? '') . (isset($kind['to']) ? ' → ' . $kind['to'] : '') . (isset($kind['action']) ? ' ' . $kind['action'] : '')) : (string) $kind;
                    $lines[] = $h($ev['at'] ?? '') . ' ' . $h($what) . ': ' . $h($ev['reason'] ?? '');
                }
                $fields['Recent events'] = $lines === [] ? '—' : implode('<br>', $lines);
            } catch (ApiError $e) {
                $fields['Recent events'] = $h(self::describe($e, $base));
            }
            return $fields;
        } catch (\Throwable $e) {
            return ['OpenClaw' => $h(self::describe($e, $base))];
        }
    }

    /** @return array{templatefile:string,vars:array<string,mixed>} */
    public static function clientArea(array $params): array
    {
        $vars = ['status' => 'unknown', 'fqdn' => '', 'active' => false, 'error' => '', 'serviceid' => ''];
        try {
            $api = self::client($params);
            $sid = Params::serviceId($params);
            $vars['serviceid'] = (string) $sid;
            $inst = self::findInstance($api, $sid);
            if ($inst === null) {
                $vars['status'] = 'not created';
            } else {
                $vars['status'] = (string) ($inst['status'] ?? 'unknown');
                $vars['fqdn'] = (string) ($inst['fqdn'] ?? '');
                $vars['active'] = ($inst['status'] ?? '') === 'active';
            }
        } catch (\Throwable $e) {
            $vars['error'] = 'The status of this service cannot be read right now; please try again later.';
        }
        return ['templatefile' => 'templates/clientarea', 'vars' => $vars];
    }

    /** The one-time access link, asked for at click time. Throws on failure. */
    public static function accessUrl(array $params): string
    {
        [$api, , $id] = self::requireInstance($params);
        $out = $api->request('GET', '/v1/instances/' . rawurlencode($id) . '/access', null, null, 'AccessLink');
        $url = $out['url'] ?? null;
        if (!is_string($url) || !preg_match('#^https?://#i', $url)) {
            throw new ApiError(200, 'bad_answer', 'openclaw did not answer with a link');
        }
        return $url;
    }

    public static function describeAccessError(\Throwable $e, string $base): string
    {
        if ($e instanceof ApiError && $e->status === 409) {
            return 'OpenClaw is not active yet (or is suspended): the link can be opened once it is running.';
        }
        if ($e instanceof ApiError && $e->status === 503) {
            return 'Your OpenClaw server is not answering right now; try again in ' . ($e->retryAfter ?? 30) . ' seconds.';
        }
        return self::describe($e, $base);
    }

    public static function openAccess(array $params): string
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            $url = self::accessUrl($params);
            self::gateway()->redirect($url);
            return 'success';
        } catch (\Throwable $e) {
            return self::describeAccessError($e, $base);
        }
    }

    /** @return array{success:bool,redirectTo?:string,errorMsg?:string} */
    public static function singleSignOn(array $params): array
    {
        $base = '';
        try {
            $base = Params::baseUrl($params);
            return ['success' => true, 'redirectTo' => self::accessUrl($params)];
        } catch (\Throwable $e) {
            return ['success' => false, 'errorMsg' => self::describeAccessError($e, $base)];
        }
    }
}
