<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 404: no such session (or one owned by another keypair). */
class NotFoundException extends ApiException
{
}
