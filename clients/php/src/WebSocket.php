<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ApiException;
use Bai\Client\Exception\ProtocolException;
use Bai\Client\Exception\TransportException;
use Bai\Client\Http\Response;
use Bai\Client\Http\Stream;

/**
 * A small RFC 6455 WebSocket client, enough for the execute stream:
 * client frames are masked, fragmented messages are joined, pings are
 * answered with pongs while a message is awaited, and a close frame is
 * echoed before the socket is shut.
 */
final class WebSocket
{
    public const OP_CONTINUATION = 0x0;
    public const OP_TEXT = 0x1;
    public const OP_BINARY = 0x2;
    public const OP_CLOSE = 0x8;
    public const OP_PING = 0x9;
    public const OP_PONG = 0xA;
    public const CLOSE_NORMAL = 1000;
    public const CLOSE_PROTOCOL_ERROR = 1002;

    /** Largest message accepted; execute frames are small, so anything near this is a broken stream. */
    public const MAX_MESSAGE = 64 << 20;

    private const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

    private bool $closeSent = false;
    public ?int $closeCode = null;
    public string $closeReason = '';

    /** @param resource $fp */
    public function __construct(private $fp)
    {
    }

    /** The Sec-WebSocket-Accept value a server must answer for $key. */
    public static function acceptKey(string $key): string
    {
        return base64_encode(sha1($key . self::GUID, true));
    }

    /**
     * Open a WebSocket to $pathQuery with the extra headers (the
     * signature). An answer other than 101 throws the ApiException of its
     * problem body.
     *
     * @param array<string, string> $headers
     */
    public static function connect(string $scheme, string $host, int $port, string $netloc, string $pathQuery, array $headers, float $timeout, string $endpoint): self
    {
        $fp = Stream::connect($scheme, $host, $port, $timeout, $endpoint);
        try {
            $key = base64_encode(random_bytes(16));
            $req = "GET $pathQuery HTTP/1.1\r\nHost: $netloc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                . "Sec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n";
            foreach ($headers as $k => $v) {
                $req .= "$k: $v\r\n";
            }
            Stream::writeAll($fp, $req . "\r\n");
            [$status, $respHeaders] = Stream::readHead($fp);
            if ($status !== 101) {
                $resp = new Response($fp, $status, $respHeaders, 'GET');
                throw ApiException::fromResponse($status, $resp->readAll(1 << 20));
            }
            if (($respHeaders['sec-websocket-accept'] ?? '') !== self::acceptKey($key)) {
                throw new ProtocolException("websocket: the server's Sec-WebSocket-Accept does not match the key sent");
            }
            return new self($fp);
        } catch (\Throwable $e) {
            if (is_resource($fp)) {
                fclose($fp);
            }
            throw $e;
        }
    }

    /** One masked client frame; $maskKey (4 bytes) is random when null. */
    public static function encodeFrame(int $opcode, string $payload, bool $fin = true, ?string $maskKey = null): string
    {
        $maskKey ??= random_bytes(4);
        $n = strlen($payload);
        $head = chr(($fin ? 0x80 : 0) | ($opcode & 0x0F));
        if ($n < 126) {
            $head .= chr(0x80 | $n);
        } elseif ($n < 65536) {
            $head .= chr(0x80 | 126) . pack('n', $n);
        } else {
            $head .= chr(0x80 | 127) . pack('J', $n);
        }
        return $head . $maskKey . self::mask($payload, $maskKey);
    }

    /** XOR with the repeating 4-byte key; masking and unmasking are the same. */
    public static function mask(string $payload, string $key): string
    {
        $n = strlen($payload);
        return $n === 0 ? '' : $payload ^ substr(str_repeat($key, intdiv($n, 4) + 1), 0, $n);
    }

    /**
     * Read one frame through $readExact(n) and return [fin, opcode, payload], unmasked.
     *
     * @param callable(int): string $readExact
     * @return array{bool, int, string}
     */
    public static function readFrame(callable $readExact): array
    {
        $h = $readExact(2);
        $b0 = ord($h[0]);
        $b1 = ord($h[1]);
        if ($b0 & 0x70) {
            throw new ProtocolException('websocket: reserved bits set without a negotiated extension');
        }
        $fin = (bool) ($b0 & 0x80);
        $op = $b0 & 0x0F;
        $n = $b1 & 0x7F;
        if ($n === 126) {
            $n = unpack('n', $readExact(2))[1];
        } elseif ($n === 127) {
            $n = unpack('J', $readExact(8))[1];
        }
        if ($op >= 0x8 && ($n > 125 || !$fin)) {
            throw new ProtocolException('websocket: control frame longer than 125 bytes or fragmented');
        }
        if ($n < 0 || $n > self::MAX_MESSAGE) {
            throw new ProtocolException('websocket: frame over the ' . self::MAX_MESSAGE . ' byte limit');
        }
        $key = ($b1 & 0x80) ? $readExact(4) : '';
        $payload = $n > 0 ? $readExact($n) : '';
        return [$fin, $op, $key !== '' ? self::mask($payload, $key) : $payload];
    }

    private function send(int $op, string $payload): void
    {
        Stream::writeAll($this->fp, self::encodeFrame($op, $payload));
    }

    public function sendText(string $text): void
    {
        $this->send(self::OP_TEXT, $text);
    }

    public function sendBinary(string $data): void
    {
        $this->send(self::OP_BINARY, $data);
    }

    public function ping(string $data = ''): void
    {
        $this->send(self::OP_PING, $data);
    }

    /**
     * Wait for the next data message and return [opcode, payload]. Pings are
     * answered meanwhile; a close frame is echoed and returns null (the code
     * and reason are in closeCode and closeReason).
     *
     * @return array{int, string}|null
     */
    public function recv(): ?array
    {
        $op = null;
        $data = '';
        $read = fn (int $n): string => Stream::readExact($this->fp, $n);
        while (true) {
            try {
                [$fin, $fop, $payload] = self::readFrame($read);
            } catch (ProtocolException $e) {
                $this->close(self::CLOSE_PROTOCOL_ERROR);
                throw $e;
            } catch (TransportException $e) {
                if ($e instanceof Exception\TimeoutException) {
                    throw $e;
                }
                throw new TransportException('websocket: connection ended without a close frame');
            }
            if ($fop === self::OP_PING) {
                $this->send(self::OP_PONG, $payload);
                continue;
            }
            if ($fop === self::OP_PONG) {
                continue;
            }
            if ($fop === self::OP_CLOSE) {
                $this->closeCode = strlen($payload) >= 2 ? unpack('n', $payload)[1] : null;
                $this->closeReason = (string) substr($payload, 2);
                $this->close($this->closeCode ?? self::CLOSE_NORMAL);
                return null;
            }
            if ($fop === self::OP_CONTINUATION) {
                if ($op === null) {
                    $this->close(self::CLOSE_PROTOCOL_ERROR);
                    throw new ProtocolException('websocket: continuation frame without a message to continue');
                }
            } elseif ($fop === self::OP_TEXT || $fop === self::OP_BINARY) {
                if ($op !== null) {
                    $this->close(self::CLOSE_PROTOCOL_ERROR);
                    throw new ProtocolException('websocket: new message inside a fragmented one');
                }
                $op = $fop;
            } else {
                $this->close(self::CLOSE_PROTOCOL_ERROR);
                throw new ProtocolException(sprintf('websocket: unknown opcode %#x', $fop));
            }
            $data .= $payload;
            if (strlen($data) > self::MAX_MESSAGE) {
                $this->close(1009);
                throw new ProtocolException('websocket: message over the ' . self::MAX_MESSAGE . ' byte limit');
            }
            if ($fin) {
                return [$op, $data];
            }
        }
    }

    /** Send a close frame (once) and close the socket. */
    public function close(int $code = self::CLOSE_NORMAL, string $reason = ''): void
    {
        if (!is_resource($this->fp)) {
            return;
        }
        if (!$this->closeSent) {
            $this->closeSent = true;
            try {
                Stream::writeAll($this->fp, self::encodeFrame(self::OP_CLOSE, pack('n', $code) . substr($reason, 0, 120)));
            } catch (TransportException) {
                // The peer is already gone; nothing to tell it.
            }
        }
        fclose($this->fp);
    }

    public function __destruct()
    {
        $this->close();
    }
}
