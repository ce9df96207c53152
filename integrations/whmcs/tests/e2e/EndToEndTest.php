<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests\E2e;

use OpenClaw\Whmcs\CronSync;
use OpenClaw\Whmcs\MemoryGateway;
use OpenClaw\Whmcs\Module;

/**
 * The module against a real `openclaw serve` sandbox (scripts/test-whmcs starts it and sets
 * OPENCLAW_E2E_HOST, OPENCLAW_E2E_KEY with the manage scope, OPENCLAW_E2E_READ_KEY with the
 * read scope). Real HTTP through the module's cURL transport; only WHMCS itself is replaced
 * (the in-memory gateway keeps the service records). Fails without a server; never skips.
 */
final class EndToEndTest extends \PHPUnit\Framework\TestCase
{
    private MemoryGateway $gw;
    private static int $nextService = 0;

    protected function setUp(): void
    {
        foreach (['OPENCLAW_E2E_HOST', 'OPENCLAW_E2E_KEY', 'OPENCLAW_E2E_READ_KEY'] as $name) {
            if ((string) getenv($name) === '') {
                self::fail("$name is not set: run scripts/test-whmcs, which starts the server");
            }
        }
        $GLOBALS['whmcs_calls'] = ['logModuleCall' => [], 'localAPI' => [], 'add_hook' => []];
        $this->gw = new MemoryGateway();
        Module::setGateway($this->gw);
    }

    protected function tearDown(): void
    {
        Module::reset();
    }

    /** Params of a fresh WHMCS service (a service id no other test uses). */
    private function params(array $over = []): array
    {
        $service = (int) (microtime(true) * 1000) % 100000000 * 10 + (self::$nextService++ % 10);
        return array_replace([
            'serverhostname' => (string) getenv('OPENCLAW_E2E_HOST'),
            'serverip' => '',
            'serversecure' => '',
            'serverport' => '',
            'serverpassword' => (string) getenv('OPENCLAW_E2E_KEY'),
            'serviceid' => $service,
            'userid' => 7,
            'domain' => 'e2e' . $service . '.example.com',
            'configoption1' => 'starter',
            'configoption2' => 'eu-west',
            'customfields' => [],
        ], $over);
    }

    /** The instance as the server has it now. */
    private function instance(array $params): array
    {
        $id = $this->gw->loadService((int) $params['serviceid'])['instance_id'];
        self::assertIsString($id, 'the instance id is kept with the service');
        $ch = curl_init('http://' . getenv('OPENCLAW_E2E_HOST') . '/v1/instances/' . $id);
        curl_setopt_array($ch, [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => ['Authorization: Bearer ' . getenv('OPENCLAW_E2E_KEY')],
            CURLOPT_TIMEOUT => 10,
        ]);
        $body = curl_exec($ch);
        $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        self::assertSame(200, $status, (string) $body);
        return json_decode((string) $body, true, 64, JSON_THROW_ON_ERROR);
    }

    /** Waits until the instance reaches $status, running the cron hook's sync on the way. */
    private function until(array $params, string $status, bool $cron = false): array
    {
        $deadline = microtime(true) + 60;
        do {
            if ($cron) {
                $this->gw->servers[(int) $params['serviceid']] = $params;
                (new CronSync($this->gw))->run();
            }
            $instance = $this->instance($params);
            if ($instance['status'] === $status) {
                return $instance;
            }
            self::assertNotContains($instance['status'], ['failed', 'rolled_back'], json_encode($instance));
            usleep(100000);
        } while (microtime(true) < $deadline);
        self::fail("the instance never reached $status: " . json_encode($instance));
    }

    public function testAServiceLivesAndEndsThroughTheModule(): void
    {
        $params = $this->params();
        self::assertSame('success', openclaw_CreateAccount($params));
        // The cron hook writes the IPv4 to the service's dedicated IP once it is there.
        $active = $this->until($params, 'active', true);
        $deadline = microtime(true) + 30;
        $written = null;
        while ($written === null && microtime(true) < $deadline) {
            (new CronSync($this->gw))->run();
            foreach ($this->gw->apiCalls as [$command, $data]) {
                if ($command === 'UpdateClientProduct' && isset($data['dedicatedip'])) {
                    $written = $data;
                }
            }
            usleep(100000);
        }
        self::assertNotNull($written, 'the cron hook wrote no dedicated IP');
        self::assertSame($active['resources']['ipv4'], $written['dedicatedip']);
        self::assertSame((int) $params['serviceid'], (int) $written['serviceid']);
        self::assertSame((string) $params['serviceid'], $active['external_ref']);
        self::assertSame('7', $active['customer_id']);

        self::assertSame('success', openclaw_SuspendAccount($params));
        $this->until($params, 'suspended');
        self::assertSame('success', openclaw_SuspendAccount($params), 'suspending twice is fine');
        self::assertSame('success', openclaw_UnsuspendAccount($params));
        $this->until($params, 'active');
        // ChangePackage: the product now says professional; the instance moves to its
        // server type (resizing) and comes back active on the new plan.
        $upgraded = ['configoption1' => 'professional'] + $params;
        self::assertSame('success', openclaw_ChangePackage($upgraded));
        self::assertSame('success', openclaw_ChangePackage($upgraded), 'asking twice is fine');
        $moved = $this->until($params, 'active');
        self::assertSame('professional', $moved['plan']);
        self::assertNull($moved['plan_change']);
        self::assertNull($moved['last_error']);
        self::assertSame($active['resources']['server_id'], $moved['resources']['server_id'], 'the same server, resized');
        // A suspended instance changes plan and stays suspended.
        self::assertSame('success', openclaw_SuspendAccount($params));
        $this->until($params, 'suspended');
        self::assertSame('success', openclaw_ChangePackage(['configoption1' => 'enterprise'] + $params));
        $still = $this->until($params, 'suspended');
        self::assertSame('enterprise', $still['plan']);
        $refused = openclaw_ChangePackage(['configoption1' => 'no-such-plan'] + $params);
        self::assertStringStartsWith('openclaw refused plan no-such-plan: ', $refused);
        self::assertSame('enterprise', $this->instance($params)['plan'], 'a refused plan change changes nothing');

        self::assertSame('success', openclaw_TerminateAccount($params));
        $this->until($params, 'terminated');
        self::assertSame('success', openclaw_TerminateAccount($params), 'terminating twice is fine');

        // Every call was logged, and the key never appears in what is logged except as a
        // value WHMCS is told to mask.
        $logged = $GLOBALS['whmcs_calls']['logModuleCall'];
        self::assertNotEmpty($logged);
        foreach ($logged as $call) {
            $text = json_encode([$call['request'], $call['response']]);
            self::assertStringNotContainsString((string) getenv('OPENCLAW_E2E_KEY'), (string) $text);
        }
    }

    public function testCreatingTwiceMakesOneInstance(): void
    {
        $params = $this->params();
        self::assertSame('success', openclaw_CreateAccount($params));
        $first = $this->gw->loadService((int) $params['serviceid'])['instance_id'];
        // WHMCS's module queue retries; the record may even be lost in between.
        self::assertSame('success', openclaw_CreateAccount($params));
        $this->gw->services = [];
        self::assertSame('success', openclaw_CreateAccount($params));
        self::assertSame($first, $this->gw->loadService((int) $params['serviceid'])['instance_id']);
        $ch = curl_init('http://' . getenv('OPENCLAW_E2E_HOST') . '/v1/instances?external_ref=' . $params['serviceid']);
        curl_setopt_array($ch, [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => ['Authorization: Bearer ' . getenv('OPENCLAW_E2E_KEY')],
        ]);
        $list = json_decode((string) curl_exec($ch), true, 64, JSON_THROW_ON_ERROR);
        curl_close($ch);
        $items = $list['items'] ?? $list['instances'] ?? $list;
        $ours = array_filter($items, fn ($i) => ($i['external_ref'] ?? null) === (string) $params['serviceid']);
        self::assertCount(1, $ours, json_encode($list));
        self::assertSame('success', openclaw_TerminateAccount($params));
    }

    public function testATakenSubdomainIsSaidPlainly(): void
    {
        $first = $this->params();
        self::assertSame('success', openclaw_CreateAccount($first));
        $second = $this->params(['domain' => $first['domain']]);
        $answer = openclaw_CreateAccount($second);
        self::assertNotSame('success', $answer);
        self::assertStringContainsStringIgnoringCase('taken', $answer);
        self::assertSame('success', openclaw_TerminateAccount($first));
    }

    public function testTerminatingAnUnknownServiceIsSuccess(): void
    {
        self::assertSame('success', openclaw_TerminateAccount($this->params()));
    }

    public function testTestConnectionSaysWhatIsWrong(): void
    {
        $ok = openclaw_TestConnection($this->params());
        self::assertTrue($ok['success'], $ok['error'] ?? '');
        $bad = openclaw_TestConnection($this->params(['serverpassword' => 'ock_nosuchkey0.notTheSecretAtAll']));
        self::assertFalse($bad['success']);
        self::assertStringContainsString('API key', $bad['error']);
        $read = openclaw_TestConnection($this->params(['serverpassword' => (string) getenv('OPENCLAW_E2E_READ_KEY')]));
        self::assertFalse($read['success']);
        self::assertStringContainsString('manage', $read['error']);
        $down = openclaw_TestConnection($this->params(['serverhostname' => '127.0.0.1:1']));
        self::assertFalse($down['success']);
        self::assertStringContainsString('reach', $down['error']);
    }
}
