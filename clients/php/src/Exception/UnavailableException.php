<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 5xx: the manager or the agent holding the session is not available. */
class UnavailableException extends ApiException
{
}
