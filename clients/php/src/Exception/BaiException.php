<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** Base class of every exception this library throws. */
class BaiException extends \RuntimeException
{
}
