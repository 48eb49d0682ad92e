<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** The connection broke, timed out, or ended early. */
class TransportException extends BaiException
{
}
