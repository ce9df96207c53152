<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

use OpenClaw\Whmcs\CronSync;
use OpenClaw\Whmcs\Module;

final class CronSyncTest extends TestCase
{
    private function watch(string $status, array $instance): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID, 'status' => $status]);
        $this->gw->servers[42] = $this->params();
        $this->http->on('GET', '/v1/instances/' . self::ID, 200, $instance);
    }

    private function sync(): array
    {
        return (new CronSync($this->gw))->run();
    }

    private function apiCalls(string $command): array
    {
        return array_values(array_filter($this->gw->apiCalls, static fn ($c) => $c[0] === $command));
    }

    public function testHookIsRegistered(): void
    {
        require_once __DIR__ . '/../modules/servers/openclaw/hooks.php';
        $hooks = array_values(array_filter($GLOBALS['whmcs_calls']['add_hook'], static fn ($h) => $h['hook'] === 'AfterCronJob'));
        if ($hooks === []) {
            $this->markTestSkipped('hooks.php was already loaded by an earlier test run');
        }
        $this->assertSame(1, $hooks[0]['priority']);
        $this->assertIsCallable($hooks[0]['function']);
    }

    public function testIpv4IsWrittenToTheDedicatedIp(): void
    {
        $this->watch('provisioning', $this->instance(['status' => 'provisioning']));
        $stats = $this->sync();
        $this->assertSame(1, $stats['ips']);
        $this->assertSame([['UpdateClientProduct', ['serviceid' => 42, 'dedicatedip' => '198.51.100.7']]], $this->apiCalls('UpdateClientProduct'));
        $rec = $this->gw->loadService(42);
        $this->assertSame('198.51.100.7', $rec['ipv4']);
        $this->assertSame('provisioning', $rec['status']);
        // next run: still provisioning, IP already written: not written again
        $this->sync();
        $this->assertCount(1, $this->apiCalls('UpdateClientProduct'));
    }

    public function testNoIpYetWritesNothing(): void
    {
        $this->watch('pending', $this->instance(['status' => 'pending', 'resources' => ['ipv4' => null, 'dns_record_ids' => []]]));
        $this->sync();
        $this->assertSame([], $this->apiCalls('UpdateClientProduct'));
    }

    public function testActiveInstanceIsNoLongerWatched(): void
    {
        $this->watch('provisioning', $this->instance(['status' => 'active']));
        $this->sync();
        $this->assertSame('active', $this->gw->loadService(42)['status']);
        $this->assertSame([], $this->gw->servicesToWatch());
    }

    public function testFailureAddsTodoLogsAndMailsOnce(): void
    {
        $this->watch('provisioning', $this->instance([
            'status' => 'failed', 'resources' => ['ipv4' => null, 'dns_record_ids' => []],
            'last_error' => ['operation' => 'provision', 'code' => 'hetzner_error', 'message' => 'no capacity', 'at' => 'now'],
        ]));
        $stats = $this->sync();
        $this->assertSame(1, $stats['failures']);
        $todo = $this->apiCalls('AddToDo');
        $this->assertCount(1, $todo);
        $this->assertStringContainsString('service #42', $todo[0][1]['title']);
        $this->assertStringContainsString('hetzner_error: no capacity', $todo[0][1]['description']);
        $this->assertSame([['SendEmail', ['messagename' => 'OpenClaw Provisioning Failed', 'id' => 42]]], $this->apiCalls('SendEmail'));
        $this->assertContains('ProvisioningFailed', array_column($this->logs(), 'action'));
        $this->assertTrue($this->gw->loadService(42)['failure_notified']);

        // the next cron runs do not mail again
        $this->sync();
        $this->sync();
        $this->assertCount(1, $this->apiCalls('SendEmail'));
        $this->assertCount(1, $this->apiCalls('AddToDo'));
    }

    public function testRolledBackAlsoNotifies(): void
    {
        $this->watch('rolling_back', $this->instance(['status' => 'rolled_back']));
        $this->sync();
        $this->assertCount(1, $this->apiCalls('SendEmail'));
    }

    public function testRetryReArmsTheFailureMail(): void
    {
        $this->watch('provisioning', $this->instance(['status' => 'failed']));
        $this->sync();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/retry', 202, $this->instance(['status' => 'provisioning']));
        $this->assertSame('success', openclaw_retry($this->params()));
        $this->assertTrue(CronSync::shouldWatch($this->gw->loadService(42)));
        $this->sync(); // the stub still answers failed: a second failure is mailed again
        $this->assertCount(2, $this->apiCalls('SendEmail'));
    }

    public function testOneServiceFailingDoesNotStopTheOthers(): void
    {
        $this->gw->saveService(41, ['instance_id' => 'aaaaaaaa-0000-7000-8000-000000000000', 'status' => 'pending']);
        $this->gw->servers[41] = $this->params(['serverpassword' => '']);
        $this->watch('provisioning', $this->instance(['status' => 'provisioning']));
        $stats = $this->sync();
        $this->assertSame(1, $stats['errors']);
        $this->assertSame(1, $stats['ips']);
    }

    public function testUnknownInstanceStopsBeingWatched(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID, 'status' => 'pending']);
        $this->gw->servers[42] = $this->params();
        $this->http->on('GET', '/v1/instances/' . self::ID, 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        $this->sync();
        $this->assertSame([], $this->gw->servicesToWatch());
        $this->assertSame([], $this->apiCalls('SendEmail'));
    }
}
