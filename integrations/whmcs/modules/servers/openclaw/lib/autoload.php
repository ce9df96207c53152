<?php

declare(strict_types=1);

require_once __DIR__ . '/ApiError.php';
require_once __DIR__ . '/ConfigError.php';
require_once __DIR__ . '/Transport.php';
require_once __DIR__ . '/CurlTransport.php';
require_once __DIR__ . '/ApiClient.php';
require_once __DIR__ . '/Params.php';
require_once __DIR__ . '/Subdomain.php';
require_once __DIR__ . '/WhmcsGateway.php';
require_once __DIR__ . '/RuntimeGateway.php';
require_once __DIR__ . '/MemoryGateway.php';
require_once __DIR__ . '/Module.php';
require_once __DIR__ . '/CronSync.php';
