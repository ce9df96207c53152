<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

final class CreateAccountTest extends TestCase
{
    private function orderable(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => [], 'next' => null]);
        $this->http->on('POST', '/v1/instances', 202, $this->instance(['status' => 'pending', 'resources' => ['dns_record_ids' => []]]));
    }

    public function testHappyPathSendsTheOrderAndStoresTheInstanceId(): void
    {
        $this->orderable();
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $posts = $this->http->calls('POST', '/v1/instances');
        $this->assertCount(1, $posts);
        $this->assertSame('https://api.test/v1/instances', $posts[0]['url']);
        $this->assertSame(['customer_id' => '7', 'subdomain' => 'mybot', 'plan' => 'starter', 'region' => 'eu-west', 'external_ref' => '42'], $posts[0]['json']);
        $this->assertSame('Bearer ' . self::KEY, $posts[0]['headers']['Authorization']);
        $this->assertStringStartsWith('whmcs-service-42-create-', $posts[0]['headers']['Idempotency-Key']);
        $this->assertSame(self::ID, $this->gw->loadService(42)['instance_id']);
        $this->assertSame('pending', $this->gw->loadService(42)['status']);
    }

    public function testSubdomainCustomFieldWinsOverDomainAndPlanRegionComeFromConfigOptions(): void
    {
        $this->orderable();
        $r = openclaw_CreateAccount($this->params(['customfields' => ['Subdomain' => ' Team-Bot '], 'configoption1' => 'professional', 'configoption2' => 'us-east']));
        $this->assertSame('success', $r);
        $json = $this->http->calls('POST', '/v1/instances')[0]['json'];
        $this->assertSame('team-bot', $json['subdomain']);
        $this->assertSame('professional', $json['plan']);
        $this->assertSame('us-east', $json['region']);
    }

    public function testIdempotencyKeyIsStableAcrossTwoCreates(): void
    {
        // the lookup finds nothing twice (e.g. the first answer was lost), so both creates POST
        $this->orderable();
        $this->gw->apiAnswers = [];
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $this->gw->services = []; // forget the stored id, as if the first save was lost
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $posts = $this->http->calls('POST', '/v1/instances');
        $this->assertCount(2, $posts);
        $this->assertSame($posts[0]['headers']['Idempotency-Key'], $posts[1]['headers']['Idempotency-Key']);
    }

    public function testIdempotencyKeyChangesWhenTheOrderChanges(): void
    {
        $this->orderable();
        openclaw_CreateAccount($this->params());
        $this->gw->services = [];
        openclaw_CreateAccount($this->params(['customfields' => ['Subdomain' => 'other']]));
        $posts = $this->http->calls('POST', '/v1/instances');
        $this->assertNotSame($posts[0]['headers']['Idempotency-Key'], $posts[1]['headers']['Idempotency-Key']);
    }

    public function testExistingInstanceFoundByExternalRefIsNotCreatedAgain(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => [$this->instance(['status' => 'provisioning'])], 'next' => null]);
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $this->assertCount(0, $this->http->calls('POST'));
        $this->assertSame(self::ID, $this->gw->loadService(42)['instance_id']);
    }

    public function testStoredInstanceIsNotCreatedAgain(): void
    {
        $this->withStoredInstance(['status' => 'pending']);
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $this->assertCount(0, $this->http->calls('POST'));
    }

    public function testTerminatedInstanceIsReplacedWithAFreshKey(): void
    {
        $this->withStoredInstance(['status' => 'terminated']);
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => [$this->instance(['status' => 'terminated'])], 'next' => null]);
        $this->http->on('POST', '/v1/instances', 202, $this->instance(['id' => '01a22efc-0000-7000-8000-000000000001', 'status' => 'pending']));
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $post = $this->http->calls('POST', '/v1/instances')[0];
        $fresh = \OpenClaw\Whmcs\Module::createKey(42, $post['json'], null);
        $this->assertNotSame($fresh, $post['headers']['Idempotency-Key']);
        $this->assertSame('01a22efc-0000-7000-8000-000000000001', $this->gw->loadService(42)['instance_id']);
    }

    /** @dataProvider badSubdomains */
    public function testInvalidSubdomainIsRefusedBeforeAnyCall(string $sub, string $expect): void
    {
        $r = openclaw_CreateAccount($this->params(['customfields' => ['Subdomain' => $sub]]));
        $this->assertStringStartsWith('Invalid subdomain: ', $r);
        $this->assertStringContainsString($expect, $r);
        $this->assertCount(0, $this->http->requests);
    }

    public function badSubdomains(): array
    {
        return [
            'reserved' => ['www', 'reserved'],
            'underscore' => ['my_bot', 'lowercase letters, digits and hyphens'],
            'leading hyphen' => ['-bot', 'start or end with a hyphen'],
            'trailing hyphen' => ['bot-', 'start or end with a hyphen'],
            'punycode-like' => ['xn--abc', "'--' in third and fourth place"],
            'too long' => [str_repeat('a', 64), 'longer than 63'],
            'dot' => ['a.b', 'lowercase letters, digits and hyphens'],
        ];
    }

    public function testEmptySubdomainAndDomainIsRefused(): void
    {
        $r = openclaw_CreateAccount($this->params(['domain' => '', 'customfields' => []]));
        $this->assertStringContainsString('no subdomain', $r);
        $this->assertCount(0, $this->http->requests);
    }

    public function testValidSubdomainsPass(): void
    {
        foreach (['a', '0', 'my-bot', str_repeat('a', 63), 'wwww', 'ab-c--d'] as $ok) {
            $this->assertNull(\OpenClaw\Whmcs\Subdomain::validate($ok), $ok);
        }
    }

    public function testMissingHostIsAClearErrorWithoutACall(): void
    {
        $r = openclaw_CreateAccount($this->params(['serverhostname' => '', 'serverip' => '']));
        $this->assertStringContainsString('No openclaw server is set', $r);
        $this->assertCount(0, $this->http->requests);
    }

    public function testMissingPasswordIsAClearErrorWithoutACall(): void
    {
        $r = openclaw_CreateAccount($this->params(['serverpassword' => '']));
        $this->assertStringContainsString('No API key', $r);
        $this->assertStringContainsString('--scope manage', $r);
        $this->assertCount(0, $this->http->requests);
    }

    public function testEmptyParamsNeverThrow(): void
    {
        $this->assertStringContainsString('No openclaw server', openclaw_CreateAccount([]));
        $this->assertStringContainsString('No openclaw server', openclaw_SuspendAccount([]));
        $this->assertStringContainsString('No openclaw server', openclaw_TerminateAccount([]));
        $this->assertCount(0, $this->http->requests);
    }

    public function testServerDownSaysWhereAndRetriesTwice(): void
    {
        $this->http->fail('GET', '/v1/instances');
        $r = openclaw_CreateAccount($this->params());
        $this->assertStringStartsWith('Cannot reach openclaw at https://api.test: ', $r);
        $this->assertStringContainsString("Couldn't connect", $r);
        $this->assertCount(3, $this->http->requests);
        $this->assertCount(0, $this->http->calls('POST'));
    }

    public function testUnauthorized(): void
    {
        $this->http->on('GET', '/v1/instances', 401, self::err('unauthorized', 'the API key is unknown'));
        $r = openclaw_CreateAccount($this->params());
        $this->assertStringStartsWith('The API key was refused', $r);
        $this->assertStringContainsString('the API key is unknown', $r);
    }

    public function testForbidden(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->http->on('POST', '/v1/instances', 403, self::err('forbidden', 'this key has scope read; this needs manage'));
        $r = openclaw_CreateAccount($this->params());
        $this->assertStringStartsWith('The API key lacks the manage scope', $r);
        $this->assertStringContainsString('this key has scope read', $r);
    }

    public function testSubdomainTaken(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->http->on('POST', '/v1/instances', 409, self::err('conflict', 'conflict: the fqdn is already carried by a live instance'));
        $r = openclaw_CreateAccount($this->params());
        $this->assertStringContainsString("The subdomain 'mybot' is already taken", $r);
        $this->assertNull($this->gw->loadService(42)['instance_id']);
    }

    public function testValidationError(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->http->on('POST', '/v1/instances', 422, self::err('invalid_input', 'invalid plan: unknown', ['field' => 'plan']));
        $r = openclaw_CreateAccount($this->params(['configoption1' => 'gold']));
        $this->assertSame('openclaw refused the request: invalid plan: unknown (field plan)', $r);
    }

    public function testCreateRetriesA503WithTheSameKeyThenSucceeds(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->http->on('POST', '/v1/instances', 503, self::err('unavailable', 'store down'), ['Retry-After' => '1']);
        $this->http->on('POST', '/v1/instances', 202, $this->instance(['status' => 'pending']));
        $this->assertSame('success', openclaw_CreateAccount($this->params()));
        $posts = $this->http->calls('POST', '/v1/instances');
        $this->assertCount(2, $posts);
        $this->assertSame($posts[0]['headers']['Idempotency-Key'], $posts[1]['headers']['Idempotency-Key']);
        $this->assertSame([1], $this->sleeps);
    }
}
