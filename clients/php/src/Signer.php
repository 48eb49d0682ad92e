<?php

declare(strict_types=1);

namespace Bai\Client;

/**
 * Backend.AI's HMAC-SHA256 request signing (docs/api.md, "Signing"), free
 * of I/O so the Go side's published vectors (common/sign/sign_test.go)
 * can check it: a request signed here must verify on the manager.
 */
final class Signer
{
    public const METHOD = 'HMAC-SHA256';
    public const NEWEST_VERSION = 'v6.20220315';

    /** Hex SHA-256 of an empty body, signed by every version from v4.20181215. */
    public const EMPTY_BODY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

    /**
     * Parse "v6.20220315" (the date part is optional) into [major, date].
     *
     * @return array{int, int}
     */
    public static function parseVersion(string $version): array
    {
        if (!preg_match('/^v([0-9]+)(?:\.([0-9]{8}))?$/', trim($version), $m) || (int) $m[1] < 1) {
            throw new \InvalidArgumentException("api version \"$version\" must look like v6.20220315");
        }
        return [(int) $m[1], isset($m[2]) ? (int) $m[2] : 0];
    }

    /** Whether requests of this version sign the real body's hash (before v4.20181215). */
    public static function hashesBody(string $version): bool
    {
        [$major, $date] = self::parseVersion($version);
        if ($major !== 4) {
            return $major < 4;
        }
        return $date < 20181215;
    }

    /** The X-BackendAI-Date value: ISO-8601 in UTC with microseconds, as Python's isoformat() writes it. */
    public static function formatDate(\DateTimeInterface $when): string
    {
        return \DateTimeImmutable::createFromInterface($when)
            ->setTimezone(new \DateTimeZone('UTC'))
            ->format('Y-m-d\TH:i:s.u') . '+00:00';
    }

    /** The newline-joined string to sign; an empty $bodyHash means the empty-body hash. */
    public static function stringToSign(
        string $method,
        string $pathQuery,
        string $date,
        string $host,
        string $contentType,
        string $version,
        string $bodyHash = '',
    ): string {
        return implode("\n", [
            strtoupper($method),
            $pathQuery,
            $date,
            'host:' . $host,
            'content-type:' . strtolower($contentType),
            'x-backendai-version:' . $version,
            $bodyHash !== '' ? $bodyHash : self::EMPTY_BODY_HASH,
        ]);
    }

    /**
     * The hex signature. The key is HMAC(HMAC(secret, YYYYMMDD), host), the
     * day taken in $when's own zone: the calendar day written in the header.
     */
    public static function signature(string $secretKey, string $host, string $stringToSign, \DateTimeInterface $when): string
    {
        $k1 = hash_hmac('sha256', $when->format('Ymd'), $secretKey, true);
        $k2 = hash_hmac('sha256', $host, $k1, true);
        return hash_hmac('sha256', $stringToSign, $k2);
    }

    public static function authorization(string $accessKey, string $signature): string
    {
        return sprintf('BackendAI signMethod=%s, credential=%s:%s', self::METHOD, $accessKey, $signature);
    }

    /**
     * The X-BackendAI-Version, X-BackendAI-Date and Authorization headers of
     * one request. $body is hashed only for versions that sign it; pass null
     * for streamed bodies (refused with those versions).
     *
     * @return array<string, string>
     */
    public static function headers(
        string $accessKey,
        string $secretKey,
        string $method,
        string $pathQuery,
        string $host,
        string $contentType,
        string $version = self::NEWEST_VERSION,
        ?string $body = '',
        ?\DateTimeInterface $when = null,
    ): array {
        $when = \DateTimeImmutable::createFromInterface($when ?? new \DateTimeImmutable('now'))
            ->setTimezone(new \DateTimeZone('UTC'));
        $date = self::formatDate($when);
        $hash = '';
        if (self::hashesBody($version)) {
            if ($body === null) {
                throw new \InvalidArgumentException("api version $version signs the body's hash; a streamed body cannot be sent with it");
            }
            $hash = hash('sha256', $body);
        }
        $sig = self::signature($secretKey, $host, self::stringToSign($method, $pathQuery, $date, $host, $contentType, $version, $hash), $when);
        return [
            'X-BackendAI-Version' => $version,
            'X-BackendAI-Date' => $date,
            'Authorization' => self::authorization($accessKey, $sig),
        ];
    }
}
