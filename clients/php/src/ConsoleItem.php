<?php

declare(strict_types=1);

namespace Bai\Client;

/**
 * One [type, data] entry of an execute answer's console. $type is stdout,
 * stderr, media, html, log or completion; $text the text of stdout, stderr
 * and html items, the data of media items, the message of log items;
 * $mime the media type of media items; $raw the data as decoded.
 */
final class ConsoleItem
{
    public function __construct(
        public readonly string $type,
        public readonly string $text = '',
        public readonly string $mime = '',
        public readonly mixed $raw = null,
    ) {
    }

    /** Decode one console entry the way the Go SDK's decodeConsole does. */
    public static function decode(mixed $item): self
    {
        if (!is_array($item) || count($item) !== 2 || !array_is_list($item)) {
            return new self('', '', '', $item);
        }
        [$type, $data] = $item;
        $type = is_string($type) ? $type : '';
        if (is_string($data)) {
            return new self($type, $data, '', $data);
        }
        if (is_array($data) && array_is_list($data)) {
            if ($type === 'media' && count($data) >= 2) {
                return new self($type, self::stringify($data[1]), is_string($data[0]) ? $data[0] : '', $data);
            }
            if ($type === 'log' && count($data) >= 4) {
                return new self($type, self::stringify($data[3]), '', $data);
            }
        } elseif (is_array($data) && $type === 'media') {
            return new self($type, self::stringify($data['data'] ?? null), is_string($data['type'] ?? null) ? $data['type'] : '', $data);
        }
        return new self($type, '', '', $data);
    }

    private static function stringify(mixed $v): string
    {
        return is_string($v) ? $v : json_encode($v, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }
}
