<?php
// The bai-runner's PHP REPL helper: reads "X <length>\n<code>" commands on
// fd 3, evals each in the global scope (so variables, functions and classes
// persist) and reports "F <exit code>\n" on fd 4. With pcntl, a SIGINT throws
// in the running code and the helper survives it.
ini_set('display_errors', 'stderr');
error_reporting(E_ALL);
$__bai_ctl = fopen('php://fd/3', 'rb');
$__bai_rec = fopen('php://fd/4', 'wb');
$__bai_running = false;
if (function_exists('pcntl_async_signals')) {
    pcntl_async_signals(true);
    pcntl_signal(SIGINT, function () {
        if ($GLOBALS['__bai_running']) {
            throw new \RuntimeException('Interrupted');
        }
    }, false); // no restart: a blocked read returns, so the throw happens

}
while (($__bai_line = fgets($__bai_ctl)) !== false) {
    $__bai_parts = explode(' ', trim($__bai_line));
    $__bai_len = (int)($__bai_parts[1] ?? 0);
    $__bai_code = '';
    while (strlen($__bai_code) < $__bai_len) {
        $__bai_chunk = fread($__bai_ctl, $__bai_len - strlen($__bai_code));
        if ($__bai_chunk === false || $__bai_chunk === '') {
            exit(0);
        }
        $__bai_code .= $__bai_chunk;
    }
    if ($__bai_parts[0] !== 'X') {
        continue;
    }
    $__bai_code = preg_replace('/^\s*<\?php\b/', '', $__bai_code);
    $__bai_code = preg_replace('/\?>\s*$/', '', $__bai_code);
    $__bai_status = 0;
    try {
        $__bai_running = true;
        eval($__bai_code);
    } catch (\Throwable $__bai_e) {
        $__bai_status = $__bai_e->getMessage() === 'Interrupted' ? 130 : 1;
        fwrite(STDERR, ($__bai_status === 130 ? 'Interrupted' : get_class($__bai_e) . ': ' . $__bai_e->getMessage() . ' on line ' . $__bai_e->getLine()) . "\n");
    } finally {
        $__bai_running = false;
    }
    flush();
    fwrite($__bai_rec, "F $__bai_status\n");
    fflush($__bai_rec);
}
