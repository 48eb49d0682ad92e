<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** A read waited longer than the configured timeout. */
class TimeoutException extends TransportException
{
}
