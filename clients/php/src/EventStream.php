<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\TimeoutException;
use Bai\Client\Exception\TransportException;
use Bai\Client\Http\Response;

/**
 * Session events as they happen. Iterate it (foreach) for SessionEvent
 * values, or call waitFor() with a deadline. A read timeout ends it.
 *
 * @implements \IteratorAggregate<int, SessionEvent>
 */
final class EventStream implements \IteratorAggregate
{
    private SseParser $parser;

    public function __construct(private Response $resp, private float $timeout)
    {
        $this->parser = new SseParser();
    }

    /** The next event, or null when the server ended the stream; $deadline is a microtime(true) value. */
    public function next(?float $deadline = null): ?SessionEvent
    {
        while (true) {
            $t = $this->timeout;
            if ($deadline !== null) {
                $left = $deadline - microtime(true);
                if ($left <= 0) {
                    throw new TimeoutException('no matching session event before the deadline');
                }
                $t = min($t, $left);
            }
            $this->resp->setTimeout($t);
            $line = $this->resp->readLine();
            if ($line === null) {
                return null;
            }
            $ev = $this->parser->feed($line);
            if ($ev === null) {
                continue;
            }
            $data = json_decode($ev['data'], true);
            return new SessionEvent($ev['event'], is_array($data) ? $data : ['raw' => $ev['data']], $ev['id']);
        }
    }

    /** The first event $match accepts, within $timeout seconds (TimeoutException otherwise). */
    public function waitFor(callable $match, float $timeout): SessionEvent
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $ev = $this->next($deadline);
            if ($ev === null) {
                throw new TransportException('events: the server ended the stream');
            }
            if ($match($ev)) {
                return $ev;
            }
        }
    }

    public function getIterator(): \Generator
    {
        while (($ev = $this->next()) !== null) {
            yield $ev;
        }
    }

    public function close(): void
    {
        $this->resp->close();
    }
}
