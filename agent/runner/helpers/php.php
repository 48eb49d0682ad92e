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

// What PHP code echoes or prints becomes tagged records on fd 4,
// "O <len>\n<bytes>", through an output buffer flushed on every write, so
// the runner sees it in order with the helper's own "E" records. Writes to
// the STDERR constant (and PHP's own warnings) cannot be redirected at the
// language level: they still go to fd 2 directly.
function __bai_send($tag, $s)
{
    if ($s === '') {
        return;
    }
    $rec = $tag . ' ' . strlen($s) . "\n" . $s;
    while ($rec !== '') {
        $n = fwrite($GLOBALS['__bai_rec'], $rec);
        if ($n === false || $n === 0) {
            return;
        }
        $rec = (string)substr($rec, $n);
    }
    fflush($GLOBALS['__bai_rec']);
}
$__bai_ob = function ($buf, $phase) {
    __bai_send('O', $buf);
    return '';
};
ob_start($__bai_ob, 1);
// Warnings, notices and deprecations go the same way, once, as "E" records
// (fatal errors cannot be caught here and still go to fd 2).
set_error_handler(function ($no, $str, $file, $line) {
    if (!(error_reporting() & $no) || $no === E_USER_ERROR) {
        return false;
    }
    $kind = [E_WARNING => 'Warning', E_USER_WARNING => 'Warning', E_NOTICE => 'Notice', E_USER_NOTICE => 'Notice',
        E_DEPRECATED => 'Deprecated', E_USER_DEPRECATED => 'Deprecated', E_RECOVERABLE_ERROR => 'Recoverable fatal error'][$no] ?? 'Error';
    if (str_contains($file, "eval()'d code")) {
        $file = '<cell>';
    }
    __bai_send('E', "$kind: $str in $file on line $line\n");
    return true;
});
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
        __bai_send('E', ($__bai_status === 130 ? 'Interrupted' : get_class($__bai_e) . ': ' . $__bai_e->getMessage() . ' on line ' . $__bai_e->getLine()) . "\n");
    } finally {
        $__bai_running = false;
    }
    while (ob_get_level() > 1) {
        ob_end_flush(); // buffers the code left open
    }
    if (ob_get_level() > 0) {
        ob_flush();
    } else {
        ob_start($__bai_ob, 1); // the code removed it
    }
    fwrite($__bai_rec, "F $__bai_status\n");
    fflush($__bai_rec);
}
