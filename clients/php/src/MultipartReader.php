<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ProtocolException;

/**
 * Reads the parts of a multipart body (the download answer: one tar
 * archive per path) in order from any source with read($n), holding at
 * most a chunk and a delimiter in memory. Each yielded part is an array
 * ['headers' => [...], 'read' => fn(int $n): string] valid until the next.
 */
final class MultipartReader
{
    private string $delim;
    // The first delimiter may start the body without a CRLF before it;
    // pretending one was there lets one search find every delimiter.
    private string $buf = "\r\n";
    private bool $eof = false;
    private bool $inBody = false;

    /** @param object $src anything with read(int $n): string, '' at its end */
    public function __construct(private object $src, string $boundary)
    {
        if ($boundary === '') {
            throw new ProtocolException('multipart answer without a boundary');
        }
        $this->delim = "\r\n--" . $boundary;
    }

    private function fill(): bool
    {
        if ($this->eof) {
            return false;
        }
        $chunk = $this->src->read(65536);
        if ($chunk === '') {
            $this->eof = true;
            return false;
        }
        $this->buf .= $chunk;
        return true;
    }

    /** Up to $n bytes of the current part; '' at its end. */
    public function readBody(int $n): string
    {
        if (!$this->inBody) {
            return '';
        }
        while (true) {
            $i = strpos($this->buf, $this->delim);
            if ($i === 0) {
                $this->inBody = false;
                return '';
            }
            // Without a delimiter in view, keep what could be the start of one.
            $take = $i !== false ? min($i, $n) : min(strlen($this->buf) - strlen($this->delim) + 1, $n);
            if ($take > 0) {
                $out = substr($this->buf, 0, $take);
                $this->buf = (string) substr($this->buf, $take);
                return $out;
            }
            if (!$this->fill()) {
                throw new ProtocolException('multipart answer ended inside a part');
            }
        }
    }

    /** @return \Generator<int, array{headers: array<string, string>, read: \Closure(int): string}> */
    public function parts(): \Generator
    {
        while (true) {
            while ($this->readBody(65536) !== '') {
                // skip what the caller left of the previous part
            }
            while (true) {
                $i = strpos($this->buf, $this->delim);
                if ($i !== false && strlen($this->buf) >= $i + strlen($this->delim) + 2) {
                    break;
                }
                if (!$this->fill()) {
                    throw new ProtocolException('multipart answer ended before its closing delimiter');
                }
            }
            $after = $i + strlen($this->delim);
            if (substr($this->buf, $after, 2) === '--') {
                return;
            }
            while (($eol = strpos($this->buf, "\r\n", $after)) === false) {
                if (!$this->fill()) {
                    throw new ProtocolException('multipart answer ended in a delimiter line');
                }
            }
            $this->buf = (string) substr($this->buf, $eol + 2);
            while (!str_starts_with($this->buf, "\r\n") && ($end = strpos($this->buf, "\r\n\r\n")) === false) {
                if (strlen($this->buf) > 65536) {
                    throw new ProtocolException('multipart part headers over 64 KiB');
                }
                if (!$this->fill()) {
                    throw new ProtocolException('multipart answer ended in part headers');
                }
            }
            $headers = [];
            if (str_starts_with($this->buf, "\r\n")) {
                $this->buf = (string) substr($this->buf, 2);
            } else {
                $end = strpos($this->buf, "\r\n\r\n");
                foreach (explode("\r\n", substr($this->buf, 0, $end)) as $line) {
                    $p = strpos($line, ':');
                    if ($p !== false) {
                        $headers[strtolower(trim(substr($line, 0, $p)))] = trim(substr($line, $p + 1));
                    }
                }
                $this->buf = (string) substr($this->buf, $end + 4);
            }
            $this->inBody = true;
            yield ['headers' => $headers, 'read' => fn (int $n): string => $this->readBody($n)];
        }
    }
}
