<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** The client is misconfigured: missing keys, a malformed endpoint. */
class ConfigException extends BaiException
{
}
