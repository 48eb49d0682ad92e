<?php

declare(strict_types=1);

namespace Bai\Client;

/**
 * A multipart/form-data upload body built from files read chunk by chunk
 * (never whole into memory), with its length known up front so it can be
 * sent with a Content-Length. Each part is named "src" and its filename
 * is the file's path under /home/work, as the manager expects.
 */
final class FormData
{
    public const CHUNK = 65536;

    public readonly string $boundary;
    /** @var list<string> */
    private array $heads = [];

    /** @param list<array{name: string, path: string, size: int}> $files */
    public function __construct(public readonly array $files, ?string $boundary = null)
    {
        $this->boundary = $boundary ?? bin2hex(random_bytes(16));
        foreach ($files as $f) {
            $this->heads[] = "--{$this->boundary}\r\nContent-Disposition: " . self::contentDisposition($f['name'])
                . "\r\nContent-Type: application/octet-stream\r\n\r\n";
        }
    }

    /**
     * The part's Content-Disposition: ASCII names quoted (backslash escapes
     * for quote and backslash), others as RFC 2231's filename*, which the
     * agent's Go mime parser decodes.
     */
    public static function contentDisposition(string $filename): string
    {
        if (preg_match('/^[\x20-\x7e]*$/', $filename)) {
            return 'form-data; name="src"; filename="' . addcslashes($filename, '"\\') . '"';
        }
        return "form-data; name=\"src\"; filename*=utf-8''" . rawurlencode($filename);
    }

    public function contentType(): string
    {
        return 'multipart/form-data; boundary=' . $this->boundary;
    }

    public function length(): int
    {
        $n = strlen("--{$this->boundary}--\r\n");
        foreach ($this->files as $i => $f) {
            $n += strlen($this->heads[$i]) + $f['size'] + 2;
        }
        return $n;
    }

    /**
     * Hand the body to $write chunk by chunk; $progress(bytes) is told how
     * many file bytes each chunk carried.
     *
     * @param callable(string): void $write
     * @param (callable(int): void)|null $progress
     */
    public function writeTo(callable $write, ?callable $progress = null): void
    {
        foreach ($this->files as $i => $f) {
            $write($this->heads[$i]);
            $in = @fopen($f['path'], 'rb');
            if ($in === false) {
                throw new \RuntimeException("upload {$f['path']}: cannot open it");
            }
            try {
                $left = $f['size'];
                while ($left > 0) {
                    $chunk = fread($in, min(self::CHUNK, $left));
                    if ($chunk === false || $chunk === '') {
                        throw new \RuntimeException("upload {$f['path']}: the file shrank while it was sent");
                    }
                    $left -= strlen($chunk);
                    $write($chunk);
                    if ($progress !== null) {
                        $progress(strlen($chunk));
                    }
                }
                if (fread($in, 1) !== '') {
                    throw new \RuntimeException("upload {$f['path']}: the file grew while it was sent");
                }
            } finally {
                fclose($in);
            }
            $write("\r\n");
        }
        $write("--{$this->boundary}--\r\n");
    }
}
