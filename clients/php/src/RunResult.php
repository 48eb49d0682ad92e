<?php

declare(strict_types=1);

namespace Bai\Client;

/** The outcome of a whole run: its id, final status, exit code and every console item in order. */
final class RunResult
{
    public string $status = '';
    public ?int $exitCode = null;
    /** @var list<ConsoleItem> */
    public array $console = [];
    /** @var list<mixed> */
    public array $files = [];

    public function __construct(public string $runId = '')
    {
    }

    public function stdout(): string
    {
        return $this->join('stdout');
    }

    public function stderr(): string
    {
        return $this->join('stderr');
    }

    private function join(string $type): string
    {
        $out = '';
        foreach ($this->console as $c) {
            if ($c->type === $type) {
                $out .= $c->text;
            }
        }
        return $out;
    }
}
