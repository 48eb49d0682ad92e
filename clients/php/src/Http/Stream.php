<?php

declare(strict_types=1);

namespace Bai\Client\Http;

use Bai\Client\Exception\TimeoutException;
use Bai\Client\Exception\TransportException;
use Bai\Client\Exception\UnreachableException;

/**
 * Socket helpers over PHP streams. Debian's php-cli has no curl
 * extension, and the WebSocket and SSE streams need the raw socket
 * anyway, so HTTP/1.1 is spoken directly: one request per connection.
 */
final class Stream
{
    /**
     * Connect to host:port over TCP, or TLS for https.
     *
     * @return resource
     */
    public static function connect(string $scheme, string $host, int $port, float $timeout, string $endpoint)
    {
        $transport = $scheme === 'https' ? 'tls' : 'tcp';
        $ctx = stream_context_create(['ssl' => ['peer_name' => trim($host, '[]'), 'verify_peer' => true]]);
        $errno = 0;
        $errstr = '';
        $fp = @stream_socket_client("$transport://$host:$port", $errno, $errstr, $timeout, STREAM_CLIENT_CONNECT, $ctx);
        if ($fp === false) {
            throw new UnreachableException($endpoint, trim($errstr));
        }
        self::setTimeout($fp, $timeout);
        return $fp;
    }

    /** @param resource $fp */
    public static function setTimeout($fp, float $timeout): void
    {
        $sec = (int) floor($timeout);
        stream_set_timeout($fp, $sec, (int) (($timeout - $sec) * 1e6));
    }

    /**
     * Write all of $data; fwrite may take less than it is given.
     *
     * @param resource $fp
     */
    public static function writeAll($fp, string $data): void
    {
        $off = 0;
        $len = strlen($data);
        while ($off < $len) {
            $n = @fwrite($fp, $off === 0 ? $data : substr($data, $off));
            if ($n === false || $n === 0) {
                self::checkTimeout($fp, 'write');
                throw new TransportException('connection closed while sending');
            }
            $off += $n;
        }
    }

    /**
     * Read exactly $n bytes.
     *
     * @param resource $fp
     */
    public static function readExact($fp, int $n): string
    {
        $out = '';
        while (strlen($out) < $n) {
            $chunk = @fread($fp, $n - strlen($out));
            if ($chunk === false || $chunk === '') {
                self::checkTimeout($fp, 'read');
                if (feof($fp)) {
                    throw new TransportException('connection ended early');
                }
                continue;
            }
            $out .= $chunk;
        }
        return $out;
    }

    /**
     * One line including its ending, or '' at the end of the stream.
     *
     * @param resource $fp
     */
    public static function readLine($fp, int $max = 65536): string
    {
        $line = @fgets($fp, $max);
        if ($line === false) {
            self::checkTimeout($fp, 'read');
            return '';
        }
        return $line;
    }

    /** @param resource $fp */
    public static function checkTimeout($fp, string $op): void
    {
        $meta = @stream_get_meta_data($fp);
        if (!empty($meta['timed_out'])) {
            throw new TimeoutException("socket $op timed out");
        }
    }

    /**
     * Read a status line and headers (names lowercased; a repeated header
     * keeps its last value).
     *
     * @param resource $fp
     * @return array{int, array<string, string>}
     */
    public static function readHead($fp): array
    {
        $line = self::readLine($fp);
        if ($line === '') {
            throw new TransportException('the server closed the connection before answering');
        }
        if (!preg_match('#^HTTP/\d(?:\.\d)? (\d{3})#', $line, $m)) {
            throw new \Bai\Client\Exception\ProtocolException('not an HTTP answer: ' . substr(rtrim($line), 0, 80));
        }
        $headers = [];
        while (true) {
            $h = self::readLine($fp);
            if ($h === '' || $h === "\r\n" || $h === "\n") {
                break;
            }
            $p = strpos($h, ':');
            if ($p !== false) {
                $headers[strtolower(trim(substr($h, 0, $p)))] = trim(substr($h, $p + 1));
            }
        }
        return [(int) $m[1], $headers];
    }
}
