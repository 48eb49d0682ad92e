<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** The execute stream ended with an error frame ({"status": "error", "msg"}). */
class StreamException extends BaiException
{
    public function __construct(public readonly string $msg)
    {
        parent::__construct("execute stream: $msg");
    }
}
