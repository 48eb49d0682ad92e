<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 401: bad signature, unknown or inactive key, clock skew. */
class AuthenticationException extends ApiException
{
}
