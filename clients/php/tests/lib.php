<?php

// A tiny test runner, so the tests need no PHPUnit download: test()
// registers a case, run() runs them in order and exits non-zero on any
// failure. Warnings and notices fail the test that raised them.

declare(strict_types=1);

final class SkipTest extends \Exception
{
}

final class T
{
    /** @var list<array{string, callable}> */
    private static array $tests = [];
    /** @var list<callable> */
    private static array $cleanups = [];

    public static function test(string $name, callable $fn): void
    {
        self::$tests[] = [$name, $fn];
    }

    /** Register something to run after every test, failed or not (destroying sessions). */
    public static function cleanup(callable $fn): void
    {
        self::$cleanups[] = $fn;
    }

    public static function run(?string $filter = null): int
    {
        set_error_handler(static function (int $no, string $msg, string $file, int $line): bool {
            if (!(error_reporting() & $no)) {
                return false; // silenced with @ on purpose
            }
            throw new \ErrorException($msg, 0, $no, $file, $line);
        });
        $failed = $passed = $skipped = 0;
        try {
            foreach (self::$tests as [$name, $fn]) {
                if ($filter !== null && !str_contains($name, $filter)) {
                    continue;
                }
                $start = microtime(true);
                try {
                    $fn();
                    $passed++;
                    printf("ok    %s (%.2fs)\n", $name, microtime(true) - $start);
                } catch (SkipTest $e) {
                    $skipped++;
                    printf("skip  %s: %s\n", $name, $e->getMessage());
                } catch (\Throwable $e) {
                    $failed++;
                    printf("FAIL  %s (%.2fs): %s: %s\n      at %s:%d\n", $name, microtime(true) - $start, get_class($e),
                        $e->getMessage(), $e->getFile(), $e->getLine());
                }
            }
        } finally {
            foreach (array_reverse(self::$cleanups) as $fn) {
                try {
                    $fn();
                } catch (\Throwable $e) {
                    $failed++;
                    printf("FAIL  cleanup: %s: %s\n", get_class($e), $e->getMessage());
                }
            }
        }
        printf("\n%d passed, %d failed, %d skipped\n", $passed, $failed, $skipped);
        return $failed > 0 ? 1 : 0;
    }
}

function check(bool $cond, string $what): void
{
    if (!$cond) {
        throw new \RuntimeException("check failed: $what");
    }
}

function eq(mixed $want, mixed $got, string $what = ''): void
{
    if ($want !== $got) {
        throw new \RuntimeException(sprintf("%swant %s, got %s", $what !== '' ? "$what: " : '',
            var_export($want, true), var_export($got, true)));
    }
}

/** Run $fn, which must throw a $class; returns the exception. */
function throws(string $class, callable $fn): \Throwable
{
    try {
        $fn();
    } catch (\Throwable $e) {
        if ($e instanceof $class) {
            return $e;
        }
        throw new \RuntimeException("want $class, got " . get_class($e) . ': ' . $e->getMessage(), 0, $e);
    }
    throw new \RuntimeException("want $class, nothing was thrown");
}
