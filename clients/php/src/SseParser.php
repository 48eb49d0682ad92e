<?php

declare(strict_types=1);

namespace Bai\Client;

/**
 * Incremental Server-Sent Events parser (the WHATWG event-stream format):
 * feed() lines, get [event, data, id] back when a blank line completes one.
 * It holds no socket, so tests feed it lines directly.
 */
final class SseParser
{
    private string $event = '';
    /** @var list<string> */
    private array $data = [];
    private string $id = '';
    public ?int $retry = null;

    /** @return array{event: string, data: string, id: string}|null */
    public function feed(string $line): ?array
    {
        $line = rtrim($line, "\r\n");
        if ($line === '') {
            $data = $this->data;
            $event = $this->event;
            $this->data = [];
            $this->event = '';
            if ($data === []) {
                return null; // comments or a bare event name make no event
            }
            return ['event' => $event !== '' ? $event : 'message', 'data' => implode("\n", $data), 'id' => $this->id];
        }
        if ($line[0] === ':') {
            return null;
        }
        $p = strpos($line, ':');
        $name = $p === false ? $line : substr($line, 0, $p);
        $value = $p === false ? '' : substr($line, $p + 1);
        if (str_starts_with($value, ' ')) {
            $value = substr($value, 1);
        }
        switch ($name) {
            case 'event':
                $this->event = $value;
                break;
            case 'data':
                $this->data[] = $value;
                break;
            case 'id':
                if (!str_contains($value, "\0")) {
                    $this->id = $value;
                }
                break;
            case 'retry':
                if (ctype_digit($value)) {
                    $this->retry = (int) $value;
                }
                break;
        }
        return null;
    }
}
