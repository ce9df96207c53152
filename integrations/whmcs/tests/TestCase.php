<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

use OpenClaw\Whmcs\MemoryGateway;
use OpenClaw\Whmcs\Module;

abstract class TestCase extends \PHPUnit\Framework\TestCase
{
    public const KEY = 'ock_testkey01.SuperSecretValue_abcdef123456';
    public const ID = '01a22efc-673a-75cd-b23a-51ba569643d0';

    protected StubTransport $http;
    protected MemoryGateway $gw;
    /** @var list<int> */
    protected array $sleeps = [];

    protected function setUp(): void
    {
        $GLOBALS['whmcs_calls'] = ['logModuleCall' => [], 'localAPI' => [], 'add_hook' => []];
        $GLOBALS['whmcs_localapi_answers'] = [];
        $this->http = new StubTransport();
        $this->gw = new MemoryGateway();
        $this->sleeps = [];
        Module::setGateway($this->gw);
        Module::setTransport($this->http);
        Module::setSleeper(function (int $s): void {
            $this->sleeps[] = $s;
        });
    }

    protected function tearDown(): void
    {
        Module::reset();
    }

    protected function params(array $over = []): array
    {
        return array_replace([
            'serverhostname' => 'api.test',
            'serverip' => '',
            'serversecure' => 'on',
            'serverport' => '',
            'serverpassword' => self::KEY,
            'serviceid' => 42,
            'userid' => 7,
            'domain' => 'mybot.example.com',
            'configoption1' => 'starter',
            'configoption2' => 'eu-west',
            'customfields' => [],
        ], $over);
    }

    protected function instance(array $over = []): array
    {
        return array_replace([
            'id' => self::ID, 'customer_id' => '7', 'external_ref' => '42', 'subdomain' => 'mybot',
            'fqdn' => 'mybot.claw.example.com', 'plan' => 'starter', 'region' => 'eu-west', 'status' => 'active',
            'resources' => ['server_id' => '1001', 'ipv4' => '198.51.100.7', 'ipv6' => '2001:db8::1', 'dns_record_ids' => []],
            'last_error' => null, 'pending_request' => null, 'version' => 3,
        ], $over);
    }

    protected static function err(string $code, string $message, ?array $details = null): array
    {
        return ['error' => ['code' => $code, 'message' => $message, 'details' => $details]];
    }

    /** The service has a stored instance id that the server knows. */
    protected function withStoredInstance(array $over = []): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID, 'status' => 'active']);
        $this->http->on('GET', '/v1/instances/' . self::ID, 200, $this->instance($over));
    }

    protected function logs(): array
    {
        return $GLOBALS['whmcs_calls']['logModuleCall'];
    }
}
