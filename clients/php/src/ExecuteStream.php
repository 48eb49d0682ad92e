<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ProtocolException;
use Bai\Client\Exception\StreamException;
use Bai\Client\Exception\TransportException;

/**
 * An execute run over a WebSocket. Iterating yields each server frame
 * (["status", "console", "exitCode", "options", "files"]) until the server
 * closes the stream after the run; an error frame throws StreamException.
 *
 * @implements \IteratorAggregate<int, array<string, mixed>>
 */
final class ExecuteStream implements \IteratorAggregate
{
    public function __construct(public readonly WebSocket $ws)
    {
    }

    public function getIterator(): \Generator
    {
        while (true) {
            $msg = $this->ws->recv();
            if ($msg === null) {
                if ($this->ws->closeCode === WebSocket::CLOSE_NORMAL) {
                    return;
                }
                throw new TransportException(sprintf('execute stream closed (code %s%s)', $this->ws->closeCode ?? 'none',
                    $this->ws->closeReason !== '' ? ': ' . $this->ws->closeReason : ''));
            }
            [$op, $text] = $msg;
            $frame = json_decode($text, true);
            if ($op !== WebSocket::OP_TEXT || !is_array($frame) || !isset($frame['status'])) {
                throw new ProtocolException('execute stream: frame is not a JSON object with a status: ' . substr($text, 0, 200));
            }
            if ($frame['status'] === 'error') {
                throw new StreamException((string) ($frame['msg'] ?? ''));
            }
            yield $frame;
        }
    }

    /** Answer a waiting-input frame; the text goes as a raw text frame. */
    public function sendInput(string $text): void
    {
        $this->ws->sendText($text);
    }

    public function close(): void
    {
        $this->ws->close();
    }
}
