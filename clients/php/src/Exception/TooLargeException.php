<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** 413: the body or an uploaded file is over the limit. */
class TooLargeException extends ApiException
{
}
