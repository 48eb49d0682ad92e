<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ProtocolException;

/**
 * Streaming extraction of the tar archives the download answer carries
 * (ustar, with PAX and GNU long names as Go's archive/tar writes them).
 * Nothing is written outside the destination whatever the archive holds:
 * absolute names are made relative, names with ".." are skipped, and
 * links are not created (a link could point a later entry outside).
 */
final class Tar
{
    /**
     * @param \Closure(int): string $read returns up to n bytes, '' at the end
     * @return list<string> the regular files written
     */
    public static function extract(\Closure $read, string $dest): array
    {
        $exact = static function (int $n) use ($read): string {
            $out = '';
            while (strlen($out) < $n) {
                $chunk = $read($n - strlen($out));
                if ($chunk === '') {
                    throw new ProtocolException('tar archive ended early');
                }
                $out .= $chunk;
            }
            return $out;
        };
        $skip = static function (int $n) use ($exact): void {
            while ($n > 0) {
                $n -= strlen($exact(min($n, 65536)));
            }
        };
        $written = [];
        $longName = null;
        $root = realpath($dest);
        if ($root === false) {
            throw new \RuntimeException("download: $dest does not exist");
        }
        while (true) {
            $first = $read(512);
            if ($first === '') {
                return $written;
            }
            $hdr = strlen($first) < 512 ? $first . $exact(512 - strlen($first)) : $first;
            if (trim($hdr, "\0") === '') {
                while ($read(65536) !== '') {
                    // the end-of-archive blocks and padding
                }
                return $written;
            }
            $sum = 0;
            for ($i = 0; $i < 512; $i++) {
                $sum += ($i >= 148 && $i < 156) ? 32 : ord($hdr[$i]);
            }
            if ($sum !== (int) octdec(trim(substr($hdr, 148, 8), " \0"))) {
                throw new ProtocolException('tar header checksum mismatch');
            }
            $size = self::number(substr($hdr, 124, 12));
            $type = $hdr[156];
            $padded = (int) (ceil($size / 512) * 512);
            $name = rtrim(substr($hdr, 0, 100), "\0");
            if (substr($hdr, 257, 5) === 'ustar') {
                $prefix = rtrim(substr($hdr, 345, 155), "\0");
                if ($prefix !== '') {
                    $name = $prefix . '/' . $name;
                }
            }
            if ($type === 'x' || $type === 'L') {
                $data = $exact($size);
                $skip($padded - $size);
                if ($type === 'L') {
                    $longName = rtrim($data, "\0");
                } else {
                    // PAX records: "<len> key=value\n".
                    $off = 0;
                    while ($off < strlen($data) && preg_match('/\G(\d+) /', $data, $m, 0, $off)) {
                        $rec = substr($data, $off, (int) $m[1]);
                        $off += (int) $m[1];
                        $kv = substr($rec, strlen($m[0]), -1);
                        if (str_starts_with($kv, 'path=')) {
                            $longName = substr($kv, 5);
                        }
                    }
                }
                continue;
            }
            if ($longName !== null) {
                $name = $longName;
                $longName = null;
            }
            $rel = self::cleanName($name);
            $mode = self::number(substr($hdr, 100, 8));
            $mtime = self::number(substr($hdr, 136, 12));
            if ($rel === null || !in_array($type, ['0', "\0", '5'], true)) {
                $skip($padded);
                continue;
            }
            $target = $dest . '/' . $rel;
            if ($type === '5') {
                if (!is_dir($target) && !@mkdir($target, 0o755, true) && !is_dir($target)) {
                    throw new \RuntimeException("download: cannot make $target");
                }
                $skip($padded);
                continue;
            }
            $dir = dirname($target);
            if (!is_dir($dir) && !@mkdir($dir, 0o755, true) && !is_dir($dir)) {
                throw new \RuntimeException("download: cannot make $dir");
            }
            $real = realpath($dir);
            if ($real === false || ($real !== $root && !str_starts_with($real, $root . '/'))) {
                $skip($padded);
                continue;
            }
            $out = @fopen($target, 'wb');
            if ($out === false) {
                throw new \RuntimeException("download: cannot write $target");
            }
            try {
                $left = $size;
                while ($left > 0) {
                    $chunk = $exact(min($left, 65536));
                    $left -= strlen($chunk);
                    if (fwrite($out, $chunk) !== strlen($chunk)) {
                        throw new \RuntimeException("download: cannot write $target");
                    }
                }
            } finally {
                fclose($out);
            }
            $skip($padded - $size);
            @chmod($target, ($mode & 0o777) | 0o600);
            @touch($target, $mtime);
            $written[] = $target;
        }
    }

    /** A relative, clean path, or null for names that climb out. */
    public static function cleanName(string $name): ?string
    {
        $parts = [];
        foreach (explode('/', $name) as $p) {
            if ($p === '' || $p === '.') {
                continue;
            }
            if ($p === '..') {
                return null;
            }
            $parts[] = $p;
        }
        return $parts === [] ? null : implode('/', $parts);
    }

    /** An octal header number, or a base-256 one (high bit set) as GNU tar writes big sizes. */
    private static function number(string $field): int
    {
        if ($field !== '' && (ord($field[0]) & 0x80)) {
            $n = ord($field[0]) & 0x7F;
            for ($i = 1; $i < strlen($field); $i++) {
                $n = ($n << 8) | ord($field[$i]);
            }
            return $n;
        }
        return (int) octdec(trim($field, " \0"));
    }
}
