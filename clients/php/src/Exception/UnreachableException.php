<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/** No connection could be made to the manager at all. */
class UnreachableException extends BaiException
{
    public function __construct(public readonly string $endpoint, string $why = '')
    {
        parent::__construct(sprintf('cannot reach the manager at %s: is it running? (set BACKEND_ENDPOINT)%s', $endpoint, $why !== '' ? " ($why)" : ''));
    }
}
