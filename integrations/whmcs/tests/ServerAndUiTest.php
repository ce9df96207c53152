<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

use OpenClaw\Whmcs\Module;

final class ServerAndUiTest extends TestCase
{
    private const NIL_SUSPEND = '/v1/instances/00000000-0000-0000-0000-000000000000/suspend';

    public function testMetaData(): void
    {
        $this->assertSame([
            'DisplayName' => 'OpenClaw', 'APIVersion' => '1.1', 'RequiresServer' => true,
            'DefaultNonSSLPort' => '8080', 'DefaultSSLPort' => '443', 'ServiceSingleSignOnLabel' => 'Open OpenClaw',
        ], openclaw_MetaData());
    }

    public function testTestConnectionOk(): void
    {
        $this->http->on('GET', '/v1/instances', 200, ['items' => [], 'next' => null]);
        $this->http->on('POST', self::NIL_SUSPEND, 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        $this->assertSame(['success' => true, 'error' => ''], openclaw_TestConnection($this->params()));
        $this->assertCount(1, $this->http->calls('POST', self::NIL_SUSPEND));
    }

    public function testTestConnectionDown(): void
    {
        $this->http->fail('GET', '/v1/instances', 'Failed to connect to api.test port 443: Connection refused');
        $r = openclaw_TestConnection($this->params());
        $this->assertFalse($r['success']);
        $this->assertSame('Cannot reach openclaw at https://api.test: Failed to connect to api.test port 443: Connection refused', $r['error']);
    }

    public function testTestConnectionBadKey(): void
    {
        $this->http->on('GET', '/v1/instances', 401, self::err('unauthorized', 'the API key is malformed'));
        $r = openclaw_TestConnection($this->params());
        $this->assertFalse($r['success']);
        $this->assertStringStartsWith('The API key was refused', $r['error']);
        $this->assertCount(0, $this->http->calls('POST'));
    }

    public function testTestConnectionReadOnlyKey(): void
    {
        $this->http->on('GET', '/v1/instances', 200, ['items' => []]);
        $this->http->on('POST', self::NIL_SUSPEND, 403, self::err('forbidden', 'this key has scope read; this needs manage'));
        $r = openclaw_TestConnection($this->params());
        $this->assertFalse($r['success']);
        $this->assertStringStartsWith('The API key lacks the manage scope: make one with `openclaw keys create --scope manage`', $r['error']);
    }

    public function testTestConnectionEmptyParams(): void
    {
        $r = openclaw_TestConnection([]);
        $this->assertFalse($r['success']);
        $this->assertStringContainsString('No openclaw server is set', $r['error']);
        $this->assertCount(0, $this->http->requests);
    }

    public function testBaseUrlFromParams(): void
    {
        $this->http->on('GET', '/v1/instances', 200, ['items' => []]);
        $this->http->on('POST', self::NIL_SUSPEND, 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        openclaw_TestConnection($this->params(['serverhostname' => '', 'serverip' => '10.0.0.5', 'serversecure' => '', 'serverport' => '8080']));
        $this->assertSame('http://10.0.0.5:8080/v1/instances?limit=1', $this->http->requests[0]['url']);
        $this->assertSame('https://api.test:8443', \OpenClaw\Whmcs\Params::baseUrl(['serverhostname' => 'api.test:8443', 'serversecure' => true, 'serverport' => '443']));
        $this->assertSame('https://api.test', \OpenClaw\Whmcs\Params::baseUrl(['serverhostname' => 'https://api.test/', 'serversecure' => '']));
    }

    public function testConfigOptionsFallBackWithoutServer(): void
    {
        $opts = openclaw_ConfigOptions();
        $this->assertSame(['Plan', 'Region'], array_keys($opts));
        $this->assertSame('dropdown', $opts['Plan']['Type']);
        $this->assertSame('starter,professional,enterprise', $opts['Plan']['Options']);
        $this->assertSame('starter', $opts['Plan']['Default']);
        $this->assertSame('eu-west,us-east,asia-pacific', $opts['Region']['Options']);
        $this->assertSame('eu-west', $opts['Region']['Default']);
        $this->assertCount(0, $this->http->requests);
    }

    public function testConfigOptionsFallBackWhenServerDown(): void
    {
        $this->http->fail('GET', '/openapi.json');
        $opts = openclaw_ConfigOptions($this->params());
        $this->assertSame('starter,professional,enterprise', $opts['Plan']['Options']);
        $this->assertGreaterThan(0, count($this->http->requests));
    }

    public function testConfigOptionsFromTheServersCatalog(): void
    {
        $doc = ['components' => ['schemas' => ['CreateInstanceRequest' => ['properties' => [
            'plan' => ['enum' => ['small', 'large']],
            'region' => ['enum' => ['mars-1', 'eu-west']],
        ]]]]];
        $this->http->on('GET', '/openapi.json', 200, $doc);
        $opts = openclaw_ConfigOptions($this->params());
        $this->assertSame('small,large', $opts['Plan']['Options']);
        $this->assertSame('small', $opts['Plan']['Default']);
        $this->assertSame('mars-1,eu-west', $opts['Region']['Options']);
        $this->assertSame('eu-west', $opts['Region']['Default']);
    }

    public function testLogModuleCallMasksTheKeyOnEveryCall(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/suspend', 202, $this->instance(['status' => 'suspending', 'subdomain' => self::KEY]));
        openclaw_SuspendAccount($this->params());
        $logs = $this->logs();
        $this->assertCount(2, $logs, 'one log per API call (GET + POST)');
        foreach ($logs as $log) {
            $this->assertSame('openclaw', $log['module']);
            $this->assertContains(self::KEY, $log['replaceVars']);
            $dump = json_encode([$log['request'], $log['response'], $log['processed']]);
            $this->assertStringNotContainsString(self::KEY, $dump);
            $this->assertStringNotContainsString('SuperSecretValue', $dump);
        }
        $this->assertSame('SuspendAccount', $logs[1]['action']);
        $this->assertSame('POST', $logs[1]['request']['method']);
        $this->assertStringContainsString('HTTP 202', $logs[1]['response']);
    }

    public function testAdminServicesTabFieldsEscapesEverything(): void
    {
        $evil = '<script>alert(1)</script>';
        $this->withStoredInstance([
            'status' => 'failed',
            'fqdn' => 'x"' . $evil,
            'last_error' => ['operation' => 'provision', 'code' => 'hetzner', 'message' => $evil, 'at' => 'now'],
        ]);
        $this->http->on('GET', '/v1/instances/' . self::ID . '/events', 200, ['items' => [
            ['sequence' => 1, 'topic' => 'provisioning', 'kind' => ['type' => 'status_changed', 'to' => 'failed'], 'reason' => $evil, 'at' => '2026-01-01T00:00:00Z'],
        ]]);
        $f = openclaw_AdminServicesTabFields($this->params());
        $this->assertSame(['Instance ID', 'Status', 'FQDN', 'Plan / Region', 'IPv4', 'IPv6', 'Last error', 'Recent events'], array_keys($f));
        $this->assertSame(self::ID, $f['Instance ID']);
        $this->assertSame('198.51.100.7', $f['IPv4']);
        $this->assertSame('2001:db8::1', $f['IPv6']);
        foreach ($f as $v) {
            $this->assertStringNotContainsString('<script>', $v);
        }
        $this->assertStringContainsString('&lt;script&gt;', $f['Last error']);
        $this->assertStringContainsString('x&quot;&lt;script&gt;', $f['FQDN']);
        $this->assertStringContainsString('status_changed → failed: &lt;script&gt;', $f['Recent events']);
    }

    public function testAdminServicesTabFieldsWhenDown(): void
    {
        $this->http->fail('GET', '/v1/instances');
        $f = openclaw_AdminServicesTabFields($this->params());
        $this->assertStringStartsWith('Cannot reach openclaw', $f['OpenClaw']);
    }

    public function testClientArea(): void
    {
        $this->withStoredInstance();
        $r = openclaw_ClientArea($this->params());
        $this->assertSame('templates/clientarea', $r['templatefile']);
        $this->assertSame('active', $r['vars']['status']);
        $this->assertSame('mybot.claw.example.com', $r['vars']['fqdn']);
        $this->assertTrue($r['vars']['active']);
        $this->assertSame(['Open OpenClaw' => 'openaccess'], openclaw_ClientAreaCustomButtonArray());
        $this->assertCount(0, $this->http->calls('GET', '/v1/instances/' . self::ID . '/access'), 'no link is made for the page');
    }

    public function testClientAreaWhenDownHidesDetails(): void
    {
        $this->http->fail('GET', '/v1/instances');
        $r = openclaw_ClientArea($this->params());
        $this->assertFalse($r['vars']['active']);
        $this->assertStringNotContainsString('api.test', $r['vars']['error']);
        $this->assertNotSame('', $r['vars']['error']);
    }

    public function testOpenAccessRedirectsAndMasksTheLinkInTheLog(): void
    {
        $url = 'https://mybot.claw.example.com/#bootstrapToken=deadbeefcafe&bootstrapProfile=owner';
        $this->withStoredInstance();
        $this->http->on('GET', '/v1/instances/' . self::ID . '/access', 200, ['url' => $url]);
        $this->assertSame('success', openclaw_openaccess($this->params()));
        $this->assertSame([$url], $this->gw->redirects);
        $last = $this->logs()[count($this->logs()) - 1];
        $this->assertSame('AccessLink', $last['action']);
        $this->assertContains($url, $last['replaceVars']);
        $this->assertStringNotContainsString('deadbeefcafe', json_encode([$last['request'], $last['response'], $last['processed']]));
    }

    public function testOpenAccessNotActive(): void
    {
        $this->withStoredInstance(['status' => 'provisioning']);
        $this->http->on('GET', '/v1/instances/' . self::ID . '/access', 409, self::err('invalid_transition', 'not active'));
        $r = openclaw_openaccess($this->params());
        $this->assertStringContainsString('not active yet', $r);
        $this->assertSame([], $this->gw->redirects);
    }

    public function testOpenAccessAgentUnavailable(): void
    {
        $this->withStoredInstance();
        $this->http->on('GET', '/v1/instances/' . self::ID . '/access', 503, self::err('agent_unavailable', 'agent not connected'), ['Retry-After' => '30']);
        $r = openclaw_openaccess($this->params());
        $this->assertStringContainsString('try again in 30 seconds', $r);
        $this->assertSame([], $this->gw->redirects);
        $this->assertCount(1, $this->http->calls('GET', '/v1/instances/' . self::ID . '/access'), 'Retry-After 30 > 5 s: not retried');
    }

    public function testSingleSignOn(): void
    {
        $url = 'https://mybot.claw.example.com/#bootstrapToken=abc';
        $this->withStoredInstance();
        $this->http->on('GET', '/v1/instances/' . self::ID . '/access', 200, ['url' => $url]);
        $this->assertSame(['success' => true, 'redirectTo' => $url], openclaw_ServiceSingleSignOn($this->params()));
    }

    public function testNonJsonSuccessIsAnError(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID]);
        $this->http->on('GET', '/v1/instances/' . self::ID, 200, '<html>proxy</html>');
        $r = openclaw_refresh($this->params());
        $this->assertStringContainsString('not JSON', $r);
    }

    public function testNonJsonErrorPageIsDescribed(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID]);
        $this->http->on('GET', '/v1/instances/' . self::ID, 502, '<html><body>Bad Gateway</body></html>');
        $r = openclaw_refresh($this->params());
        $this->assertStringContainsString('502', $r);
        $this->assertStringContainsString('Bad Gateway', $r);
        $this->assertCount(3, $this->http->requests, 'a GET is retried twice on 502');
    }

    public function testWriteIsAlwaysSentWithAnIdempotencyKey(): void
    {
        $api = Module::client($this->params());
        $this->http->on('POST', '/v1/x', 202, []);
        $api->request('POST', '/v1/x');
        $this->assertNotEmpty($this->http->requests[0]['headers']['Idempotency-Key']);
    }
}
