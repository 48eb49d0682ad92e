<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 412: a resource policy limit. */
class QuotaExceededException extends ApiException
{
}
