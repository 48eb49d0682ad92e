<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 403: the keypair may not do this. */
class PermissionDeniedException extends ApiException
{
}
