<?php

declare(strict_types=1);

namespace Bai\Client\Http;

use Bai\Client\Exception\ProtocolException;
use Bai\Client\Exception\TransportException;

/**
 * An HTTP answer whose body is read as it arrives (Content-Length, chunked
 * or until the connection closes), so downloads and event streams are
 * never held whole in memory.
 */
final class Response
{
    private string $buf = '';
    private bool $eof = false;
    private string $mode;
    private int $left = 0; // bytes left of the body (length) or of the current chunk (chunked)
    private bool $chunkStarted = false;

    /**
     * @param resource $fp
     * @param array<string, string> $headers
     */
    public function __construct(private $fp, public readonly int $status, public readonly array $headers, string $method)
    {
        if ($method === 'HEAD' || $status === 204 || $status === 304 || ($status >= 100 && $status < 200)) {
            $this->mode = 'none';
            $this->eof = true;
        } elseif (stripos($headers['transfer-encoding'] ?? '', 'chunked') !== false) {
            $this->mode = 'chunked';
        } elseif (isset($headers['content-length']) && ctype_digit($headers['content-length'])) {
            $this->mode = 'length';
            $this->left = (int) $headers['content-length'];
            $this->eof = $this->left === 0;
        } else {
            $this->mode = 'close';
        }
    }

    public function header(string $name): string
    {
        return $this->headers[strtolower($name)] ?? '';
    }

    /** The media type of Content-Type, lowercased, without parameters. */
    public function mediaType(): string
    {
        return strtolower(trim(explode(';', $this->header('content-type'))[0]));
    }

    /** A parameter of Content-Type (e.g. boundary), unquoted. */
    public function contentTypeParam(string $name): string
    {
        if (preg_match('/;\s*' . preg_quote($name, '/') . '\s*=\s*("(?:[^"\\\\]|\\\\.)*"|[^;\s]+)/i', $this->header('content-type'), $m)) {
            $v = $m[1];
            return $v[0] === '"' ? stripcslashes(substr($v, 1, -1)) : $v;
        }
        return '';
    }

    /** Take in more of the body; false at its end. */
    private function fill(): bool
    {
        if ($this->eof) {
            return false;
        }
        switch ($this->mode) {
            case 'length':
                $data = $this->readSome(min(65536, $this->left));
                $this->left -= strlen($data);
                $this->eof = $this->left === 0;
                break;
            case 'chunked':
                if ($this->left === 0) {
                    if ($this->chunkStarted) {
                        Stream::readExact($this->fp, 2); // the CRLF after a chunk's data
                    }
                    $line = Stream::readLine($this->fp, 1024);
                    if ($line === '' || !preg_match('/^([0-9a-fA-F]+)/', $line, $m)) {
                        throw new TransportException('chunked answer ended early or is malformed');
                    }
                    $this->left = (int) hexdec($m[1]);
                    $this->chunkStarted = true;
                    if ($this->left === 0) {
                        while (!in_array(Stream::readLine($this->fp, 1024), ['', "\r\n", "\n"], true)) {
                            // trailers are not used
                        }
                        $this->eof = true;
                        return false;
                    }
                }
                $data = $this->readSome(min(65536, $this->left));
                $this->left -= strlen($data);
                break;
            default: // close
                $data = @fread($this->fp, 65536);
                if ($data === false || $data === '') {
                    Stream::checkTimeout($this->fp, 'read');
                    if (feof($this->fp)) {
                        $this->eof = true;
                        return false;
                    }
                    return true;
                }
        }
        $this->buf .= $data;
        return true;
    }

    private function readSome(int $n): string
    {
        $data = @fread($this->fp, $n);
        if ($data === false || $data === '') {
            Stream::checkTimeout($this->fp, 'read');
            if (feof($this->fp)) {
                throw new TransportException('answer ended before its announced length');
            }
            return '';
        }
        return $data;
    }

    /** Up to $n bytes of the body; '' at its end. */
    public function read(int $n = 65536): string
    {
        while ($this->buf === '') {
            if (!$this->fill()) {
                return '';
            }
        }
        $out = substr($this->buf, 0, $n);
        $this->buf = (string) substr($this->buf, strlen($out));
        return $out;
    }

    /** The next line including its "\n", or null at the end of the body. */
    public function readLine(int $max = 1 << 20): ?string
    {
        while (($p = strpos($this->buf, "\n")) === false) {
            if (strlen($this->buf) > $max) {
                throw new ProtocolException("line over $max bytes");
            }
            if (!$this->fill()) {
                if ($this->buf === '') {
                    return null;
                }
                $line = $this->buf;
                $this->buf = '';
                return $line;
            }
        }
        $line = substr($this->buf, 0, $p + 1);
        $this->buf = (string) substr($this->buf, $p + 1);
        return $line;
    }

    /** The whole body, refusing more than $limit bytes. */
    public function readAll(int $limit = 64 << 20): string
    {
        $out = '';
        while (($chunk = $this->read()) !== '') {
            $out .= $chunk;
            if (strlen($out) > $limit) {
                throw new ProtocolException("answer over $limit bytes");
            }
        }
        return $out;
    }

    public function setTimeout(float $timeout): void
    {
        Stream::setTimeout($this->fp, $timeout);
    }

    public function close(): void
    {
        if (is_resource($this->fp)) {
            fclose($this->fp);
        }
    }

    public function __destruct()
    {
        $this->close();
    }
}
