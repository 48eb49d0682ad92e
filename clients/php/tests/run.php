<?php

// Runs the PHP client's tests: `php clients/php/tests/run.php` runs the
// unit tests and, when BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
// BACKEND_SECRET_KEY name a running server, the live tests (skipped
// without them, a failure when BAI_CLIENT_REQUIRE_LIVE=1). `--unit` runs
// only the unit tests; `--filter=text` only the tests whose name holds it.

declare(strict_types=1);

require __DIR__ . '/../autoload.php';
require __DIR__ . '/lib.php';

$unitOnly = in_array('--unit', $argv, true);
$filter = null;
foreach ($argv as $a) {
    if (str_starts_with($a, '--filter=')) {
        $filter = substr($a, 9);
    }
}
require __DIR__ . '/unit_test.php';
if (!$unitOnly) {
    require __DIR__ . '/live_test.php';
}
exit(T::run($filter));
