<?php

declare(strict_types=1);

if (!defined('WHMCS')) {
    die('This file cannot be accessed directly');
}

// only the classes: WHMCS loads openclaw.php itself when it needs the module functions
require_once __DIR__ . '/lib/autoload.php';

add_hook('AfterCronJob', 1, function (array $vars = []): void {
    try {
        (new \OpenClaw\Whmcs\CronSync(\OpenClaw\Whmcs\Module::gateway()))->run();
    } catch (\Throwable $e) {
        if (function_exists('logModuleCall')) {
            logModuleCall('openclaw', 'CronSync', [], $e->getMessage(), null, []);
        }
    }
});
