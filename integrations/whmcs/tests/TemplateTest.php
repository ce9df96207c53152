<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs\Tests;

/**
 * The client area template rendered by Smarty (Debian's smarty4, which scripts/test-whmcs
 * installs; WHMCS renders module templates with Smarty too): the page shows the status and
 * the "Open OpenClaw" form for this service, escapes what the server sent, and never holds an
 * access link.
 */
final class TemplateTest extends TestCase
{
    private const SMARTY = '/usr/share/php/smarty4/Smarty.class.php';

    private function render(array $vars): string
    {
        self::assertFileExists(self::SMARTY, 'Smarty is missing: scripts/test-whmcs installs Debian\'s smarty4');
        require_once self::SMARTY;
        $smarty = new \Smarty();
        $dir = sys_get_temp_dir() . '/openclaw-whmcs-smarty-' . getmypid();
        $smarty->setCompileDir($dir);
        $smarty->setCacheDir($dir);
        $smarty->setTemplateDir(dirname(__DIR__) . '/modules/servers/openclaw');
        $smarty->assign($vars);
        return $smarty->fetch('templates/clientarea.tpl');
    }

    public function testAnActiveServiceHasItsOpenButtonAndNoLink(): void
    {
        $this->withStoredInstance();
        $area = openclaw_ClientArea($this->params());
        $html = $this->render($area['vars']);
        self::assertStringContainsString('<td>active</td>', $html);
        self::assertStringContainsString('mybot.claw.example.com', $html);
        self::assertStringContainsString('name="id" value="42"', $html, 'the form names this service');
        self::assertStringContainsString('name="a" value="openaccess"', $html);
        self::assertStringContainsString('Open OpenClaw</button>', $html);
        self::assertStringNotContainsString('bootstrapToken', $html);
        self::assertStringNotContainsString('/access', $html);
        self::assertCount(0, $this->http->calls('GET', '/v1/instances/' . self::ID . '/access'));
    }

    public function testWhatTheServerSentIsEscapedAndAnInactiveServiceHasNoButton(): void
    {
        $html = $this->render([
            'status' => 'provisioning<script>alert(1)</script>',
            'fqdn' => '"><img src=x onerror=alert(1)>.example.com',
            'active' => false,
            'error' => '<b>down</b>',
            'serviceid' => '42',
        ]);
        self::assertStringNotContainsString('<script>', $html);
        self::assertStringNotContainsString('<img', $html);
        self::assertStringNotContainsString('<b>down</b>', $html);
        self::assertStringContainsString('&lt;script&gt;', $html);
        self::assertStringNotContainsString('Open OpenClaw</button>', $html);
        self::assertStringContainsString('appears once the instance is active', $html);
    }
}
