<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 429: the keypair's request budget is spent. */
class RateLimitedException extends ApiException
{
}
