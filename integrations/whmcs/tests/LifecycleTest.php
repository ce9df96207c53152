<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

use OpenClaw\Whmcs\Module;

final class LifecycleTest extends TestCase
{
    public function testSuspendPostsWithAnIdempotencyKey(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/suspend', 202, $this->instance(['status' => 'suspending']));
        $this->assertSame('success', openclaw_SuspendAccount($this->params()));
        $post = $this->http->calls('POST')[0];
        $this->assertSame('/v1/instances/' . self::ID . '/suspend', $post['path']);
        $this->assertStringStartsWith('whmcs-service-42-suspend-', $post['headers']['Idempotency-Key']);
        $this->assertSame('suspending', $this->gw->loadService(42)['status']);
    }

    public function testSuspendKeysDifferBetweenInvocations(): void
    {
        // a stable key would replay the first suspend after an unsuspend (the server keeps keys 24 h)
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/suspend', 202, $this->instance(['status' => 'suspending']));
        openclaw_SuspendAccount($this->params());
        openclaw_SuspendAccount($this->params());
        $posts = $this->http->calls('POST');
        $this->assertNotSame($posts[0]['headers']['Idempotency-Key'], $posts[1]['headers']['Idempotency-Key']);
    }

    public function testSuspendOfAnAlreadySuspendedInstanceIsSuccess(): void
    {
        $this->withStoredInstance(['status' => 'suspended']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/suspend', 409, self::err('invalid_transition', 'cannot go from suspended to suspending'));
        $this->assertSame('success', openclaw_SuspendAccount($this->params()));
    }

    public function testSuspendRefusedByTheStateMachineIsAnError(): void
    {
        $this->withStoredInstance(['status' => 'terminating']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/suspend', 409, self::err('invalid_transition', 'cannot go from terminating to suspending'));
        $this->assertSame('openclaw refused: cannot go from terminating to suspending', openclaw_SuspendAccount($this->params()));
    }

    public function testSuspendWithoutAnyInstanceSaysSo(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $r = openclaw_SuspendAccount($this->params());
        $this->assertStringContainsString('No openclaw instance is recorded for service #42', $r);
        $this->assertCount(0, $this->http->calls('POST'));
    }

    public function testUnsuspend(): void
    {
        $this->withStoredInstance(['status' => 'suspended']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/unsuspend', 202, $this->instance(['status' => 'unsuspending']));
        $this->assertSame('success', openclaw_UnsuspendAccount($this->params()));
        $this->assertCount(1, $this->http->calls('POST', '/v1/instances/' . self::ID . '/unsuspend'));
    }

    public function testUnsuspendServerError(): void
    {
        $this->withStoredInstance(['status' => 'suspended']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/unsuspend', 500, self::err('internal', 'internal error'));
        $r = openclaw_UnsuspendAccount($this->params());
        $this->assertSame('openclaw at https://api.test failed (500 internal): internal error', $r);
        $this->assertCount(1, $this->http->calls('POST'), 'a 500 is not retried');
    }

    public function testTerminate(): void
    {
        $this->withStoredInstance();
        $this->http->on('DELETE', '/v1/instances/' . self::ID, 202, $this->instance(['status' => 'terminating']));
        $this->assertSame('success', openclaw_TerminateAccount($this->params()));
        $del = $this->http->calls('DELETE');
        $this->assertCount(1, $del);
        $this->assertSame('whmcs-service-42-terminate-' . self::ID, $del[0]['headers']['Idempotency-Key']);
    }

    public function testTerminateOfUnknownInstanceIsSuccess(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID]);
        $this->http->on('GET', '/v1/instances/' . self::ID, 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->assertSame('success', openclaw_TerminateAccount($this->params()));
        $this->assertCount(0, $this->http->calls('DELETE'));
    }

    public function testTerminateWhenDeleteAnswers404IsSuccess(): void
    {
        $this->withStoredInstance();
        $this->http->on('DELETE', '/v1/instances/' . self::ID, 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        $this->assertSame('success', openclaw_TerminateAccount($this->params()));
        $this->assertSame('terminated', $this->gw->loadService(42)['status']);
    }

    public function testTerminateWithNoIdAndNoneFoundIsSuccess(): void
    {
        $this->http->on('GET', '/v1/instances?external_ref=42&limit=50', 200, ['items' => []]);
        $this->assertSame('success', openclaw_TerminateAccount($this->params()));
    }

    public function testTerminateWhenServerIsDownIsAnError(): void
    {
        $this->http->fail('GET', '/v1/instances');
        $this->assertStringStartsWith('Cannot reach openclaw', openclaw_TerminateAccount($this->params()));
    }

    public function testChangePackageOnAServerWithoutThePlanRoute(): void
    {
        $this->withStoredInstance();
        // no rule for POST .../plan: the stub answers like the real server, 404 "no such endpoint"
        $this->assertSame(Module::PLAN_CHANGE_UNSUPPORTED, openclaw_ChangePackage($this->params(['configoption1' => 'professional'])));
        $post = $this->http->calls('POST')[0];
        $this->assertSame('/v1/instances/' . self::ID . '/plan', $post['path']);
        $this->assertSame(['plan' => 'professional'], $post['json']);
        $this->assertStringContainsString('POST /v1/instances/{id}/plan', Module::PLAN_CHANGE_UNSUPPORTED);
    }

    public function testChangePackage405IsAlsoUnsupported(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 405, self::err('method_not_allowed', 'method not allowed'));
        $this->assertSame(Module::PLAN_CHANGE_UNSUPPORTED, openclaw_ChangePackage($this->params()));
    }

    public function testChangePackageWhenTheServerSupportsIt(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 202, $this->instance(['status' => 'resizing', 'plan_change' => ['from' => 'starter', 'to' => 'professional', 'resume' => 'active', 'reverting' => false]]));
        $this->assertSame('success', openclaw_ChangePackage($this->params(['configoption1' => 'professional'])));
        $this->assertSame('success', openclaw_ChangePackage($this->params(['configoption1' => 'professional'])));
        $posts = $this->http->calls('POST');
        $this->assertCount(2, $posts);
        $this->assertSame(['plan' => 'professional'], $posts[0]['json']);
        $this->assertStringStartsWith('whmcs-service-42-plan-professional-', $posts[0]['headers']['Idempotency-Key']);
        $this->assertNotSame($posts[0]['headers']['Idempotency-Key'], $posts[1]['headers']['Idempotency-Key'], 'a later change back to a plan is not a replay');
        $this->assertSame('resizing', $this->gw->loadService(42)['status']);
    }

    public function testChangePackageToASmallerDiskSaysWhatToDo(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 409, self::err('conflict', 'plan starter has a 80 GB disk, smaller than the 160 GB disk of instance x; a server\'s disk cannot shrink'));
        $r = openclaw_ChangePackage($this->params(['configoption1' => 'starter']));
        $this->assertStringStartsWith('openclaw cannot move this service to plan starter now: ', $r);
        $this->assertStringContainsString('disk cannot shrink', $r);
    }

    public function testChangePackageToAnUnknownPlanSaysWhereToFixIt(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 422, self::err('invalid_input', 'invalid plan: unknown plan "gold"; known: enterprise, professional, starter', ['field' => 'plan']));
        $r = openclaw_ChangePackage($this->params(['configoption1' => 'gold']));
        $this->assertStringStartsWith('openclaw refused plan gold: ', $r);
        $this->assertStringContainsString('Module Settings', $r);
    }

    public function testChangePackageWhileAnotherChangeRunsSaysToWait(): void
    {
        $this->withStoredInstance(['status' => 'resizing']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 409, self::err('conflict', 'instance x is moving to plan professional; change it again once that is over'));
        $r = openclaw_ChangePackage($this->params(['configoption1' => 'enterprise']));
        $this->assertStringStartsWith('openclaw cannot move this service to plan enterprise now: ', $r);
        $this->assertStringContainsString('once that is over', $r);
    }

    public function testChangePackageOfAFailedInstanceIsRefusedPlainly(): void
    {
        $this->withStoredInstance(['status' => 'failed']);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 409, self::err('invalid_transition', 'cannot go from failed to resizing', ['from' => 'failed', 'to' => 'resizing']));
        $this->assertSame('openclaw refused: cannot go from failed to resizing', openclaw_ChangePackage($this->params()));
    }

    public function testChangePackageInstance404IsNotMistakenForAMissingRoute(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/plan', 404, self::err('not_found', 'instance not found', ['kind' => 'instance']));
        $r = openclaw_ChangePackage($this->params());
        $this->assertNotSame(Module::PLAN_CHANGE_UNSUPPORTED, $r);
        $this->assertStringContainsString('instance not found', $r);
    }

    public function testAdminButtons(): void
    {
        $this->assertSame(['Refresh' => 'refresh', 'Retry' => 'retry', 'Roll back' => 'rollback', 'Restart gateway' => 'restartgateway'], openclaw_AdminCustomButtonArray());
        $this->withStoredInstance(['status' => 'failed']);
        $this->gw->saveService(42, ['failure_notified' => true]);
        $this->http->on('POST', '/v1/instances/' . self::ID . '/retry', 202, $this->instance(['status' => 'provisioning']));
        $this->http->on('POST', '/v1/instances/' . self::ID . '/rollback', 202, $this->instance(['status' => 'rolling_back']));
        $this->http->on('POST', '/v1/instances/' . self::ID . '/actions/restart', 202, ['id' => 'task-1', 'kind' => 'restart']);

        $this->assertSame('success', openclaw_retry($this->params()));
        $this->assertFalse($this->gw->loadService(42)['failure_notified'], 'a retry re-arms the failure e-mail');
        $this->assertSame('success', openclaw_rollback($this->params()));
        $this->assertSame('success', openclaw_restartgateway($this->params()));
        $this->assertSame('success', openclaw_refresh($this->params()));
        $paths = array_column($this->http->calls('POST'), 'path');
        $this->assertSame(['/v1/instances/' . self::ID . '/retry', '/v1/instances/' . self::ID . '/rollback', '/v1/instances/' . self::ID . '/actions/restart'], $paths);
    }

    public function testRetryRefused(): void
    {
        $this->withStoredInstance();
        $this->http->on('POST', '/v1/instances/' . self::ID . '/retry', 409, self::err('invalid_transition', 'nothing to retry'));
        $this->assertSame('openclaw refused: nothing to retry', openclaw_retry($this->params()));
    }

    public function testRateLimitedGetIsRetriedHonouringRetryAfter(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID]);
        $this->http->on('GET', '/v1/instances/' . self::ID, 429, self::err('rate_limited', 'slow down'), ['Retry-After' => '3']);
        $this->http->on('GET', '/v1/instances/' . self::ID, 200, $this->instance());
        $this->assertSame('success', openclaw_refresh($this->params()));
        $this->assertSame([3], $this->sleeps);
    }

    public function testRateLimitWithLongRetryAfterIsNotWaitedFor(): void
    {
        $this->gw->saveService(42, ['instance_id' => self::ID]);
        $this->http->on('GET', '/v1/instances/' . self::ID, 429, self::err('rate_limited', 'slow down'), ['Retry-After' => '60']);
        $r = openclaw_refresh($this->params());
        $this->assertStringContainsString('rate limiting', $r);
        $this->assertStringContainsString('60 s', $r);
        $this->assertSame([], $this->sleeps);
    }
}
