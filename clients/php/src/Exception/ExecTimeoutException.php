<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

use Bai\Client\RunResult;

/** The agent stopped a run for exceeding its time limit; $result holds the output so far. */
class ExecTimeoutException extends BaiException
{
    public function __construct(public readonly string $runId, public readonly ?RunResult $result = null)
    {
        parent::__construct("run $runId: execution timed out");
    }
}
