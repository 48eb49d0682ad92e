<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** The manager answered something this client does not understand. */
class ProtocolException extends BaiException
{
}
