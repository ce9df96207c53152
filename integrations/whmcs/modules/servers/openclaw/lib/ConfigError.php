<?php

declare(strict_types=1);

namespace OpenClaw\Whmcs;

/** A module or service setting is missing or wrong: the message tells the admin what to fix. */
final class ConfigError extends \RuntimeException
{
}
