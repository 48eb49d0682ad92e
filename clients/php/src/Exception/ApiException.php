<?php

declare(strict_types=1);

namespace Bai\Client\Exception;

/**
 * An error answer of the manager (HTTP status >= 400), decoded from its
 * RFC 7807 problem+json body. A subclass per status lets callers catch
 * NotFoundException instead of comparing numbers.
 */
class ApiException extends BaiException
{
    private const CLASSES = [
        400 => InvalidArgumentException::class,
        401 => AuthenticationException::class,
        403 => PermissionDeniedException::class,
        404 => NotFoundException::class,
        409 => ConflictException::class,
        412 => QuotaExceededException::class,
        413 => TooLargeException::class,
        422 => InvalidArgumentException::class,
        429 => RateLimitedException::class,
    ];

    private const PHRASES = [
        400 => 'Bad Request', 401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found',
        409 => 'Conflict', 412 => 'Precondition Failed', 413 => 'Request Entity Too Large',
        422 => 'Unprocessable Entity', 429 => 'Too Many Requests', 500 => 'Internal Server Error',
        502 => 'Bad Gateway', 503 => 'Service Unavailable', 504 => 'Gateway Timeout',
    ];

    public function __construct(
        public readonly int $status,
        public readonly string $type = '',
        public readonly string $title = '',
        public readonly string $msg = '',
    ) {
        $title = $title !== '' ? $title : (self::PHRASES[$status] ?? 'error');
        $text = sprintf('%s (HTTP %d)', rtrim($title, '.'), $status);
        if ($msg !== '' && $msg !== $this->title) {
            $text .= ': ' . $msg;
        }
        parent::__construct($text, $status);
    }

    /** Decode an error answer into the exception class of its status. */
    public static function fromResponse(int $status, string $body): self
    {
        $class = self::CLASSES[$status] ?? ($status >= 500 ? UnavailableException::class : self::class);
        $doc = json_decode($body, true);
        if (is_array($doc)) {
            $msg = $doc['msg'] ?? ($doc['detail'] ?? '');
            return new $class($status, (string) ($doc['type'] ?? ''), (string) ($doc['title'] ?? ''), (string) $msg);
        }
        $text = trim($body);
        return new $class($status, '', '', strlen($text) < 500 ? $text : '');
    }
}
