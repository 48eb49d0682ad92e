<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 400/422: a malformed request; msg names the field. */
class InvalidArgumentException extends ApiException
{
}
