<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 409: e.g. executing in a session that is not RUNNING. */
class ConflictException extends ApiException
{
}
