<?php

// Live tests: the client against a running bai server with real Docker
// sessions, given by BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
// BACKEND_SECRET_KEY. Without them they are skipped, unless
// BAI_CLIENT_REQUIRE_LIVE=1 (set by the e2e test), which makes that a
// failure. Every session created here is destroyed by a cleanup.

declare(strict_types=1);

use Bai\Client\Client;
use Bai\Client\Exception;
use Bai\Client\InputRequest;

const LIVE_IMAGE = 'python:3.11-debian';

function liveClient(array $overrides = []): Client
{
    foreach (['BACKEND_ENDPOINT', 'BACKEND_ACCESS_KEY', 'BACKEND_SECRET_KEY'] as $k) {
        if ((string) getenv($k) === '') {
            if (getenv('BAI_CLIENT_REQUIRE_LIVE') === '1') {
                throw new \RuntimeException('BAI_CLIENT_REQUIRE_LIVE=1 but BACKEND_ENDPOINT/ACCESS_KEY/SECRET_KEY are not all set');
            }
            throw new SkipTest('set BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY to run the live tests');
        }
    }
    return new Client(null, $overrides + ['timeout' => 120.0]);
}

function unique(string $prefix): string
{
    return sprintf('%s-%d-%s', $prefix, getmypid(), bin2hex(random_bytes(3)));
}

/** The name of one python session shared by the tests below, created on first use and destroyed at the end. */
function shared(): string
{
    static $name = null;
    if ($name === null) {
        $c = liveClient();
        $n = unique('phpc');
        T::cleanup(fn () => $c->destroySession($n, true));
        $info = $c->createSession(LIVE_IMAGE, $n, ['resources' => ['cpu' => 1, 'mem' => '512m']]);
        eq(['RUNNING', $n, true], [$info['status'], $info['sessionName'], $info['created']], 'create answer');
        $name = $n;
    }
    return $name;
}

function stdoutOf(array $res): string
{
    $out = '';
    foreach ($res['console'] as [$type, $text]) {
        if ($type === 'stdout') {
            $out .= $text;
        }
    }
    return $out;
}

function tempDir(): string
{
    $d = sys_get_temp_dir() . '/bai-php-live-' . bin2hex(random_bytes(4));
    mkdir($d);
    T::cleanup(fn () => exec('rm -rf ' . escapeshellarg($d)));
    return $d;
}

T::test('live: session info, listing and reuse', function (): void {
    $c = liveClient();
    $name = shared();
    $info = $c->getSession($name);
    eq('RUNNING', $info['status']);
    check(in_array($name, array_column($c->listSessions(), 'sessionName'), true), 'listed');
    $again = $c->createSession(LIVE_IMAGE, $name);
    eq([$info['sessionId'], false], [$again['sessionId'], $again['created']], 'reused');
});

T::test('live: query', function (): void {
    $c = liveClient();
    $seen = [];
    $r = $c->runCode(shared(), 'print(1+1)', onConsole: function ($it) use (&$seen) { $seen[] = [$it->type, $it->text]; });
    eq(['finished', 0, "2\n"], [$r->status, $r->exitCode, $r->stdout()]);
    eq([['stdout', "2\n"]], $seen);
    check(str_contains($c->runCode(shared(), "raise ValueError('boom')")->stderr(), 'ValueError: boom'), 'stderr');
});

// Before the exec-timeout test: a completion asked right after an
// exec-timeout sometimes answers [] while the interrupted run unwinds.
T::test('live: complete and logs', function (): void {
    $c = liveClient();
    $got = $c->complete(shared(), 'pri', ['row' => 0, 'col' => 3, 'line' => 'pri']);
    check(in_array('print(', $got, true), 'print( completed: ' . json_encode($got));
    check(is_string($c->logs(shared())), 'logs');
});

T::test('live: input round trip', function (): void {
    $asked = [];
    $r = liveClient()->runCode(shared(), "name = input('name? ')\nprint('hello', name)", onInput: function (InputRequest $req) use (&$asked) {
        $asked[] = $req;
        return 'bai';
    });
    eq(1, count($asked));
    eq(false, $asked[0]->isPassword);
    check(str_contains($r->stdout(), "hello bai\n"), 'answer reached the program: ' . $r->stdout());
});

T::test('live: continued runs are polled', function (): void {
    $c = liveClient();
    $code = "import time\nprint('a', flush=True)\ntime.sleep(3)\nprint('b')";
    $res = $c->execute(shared(), 'query', 'phpcont', $code);
    eq('continued', $res['status'], 'a 3 s run outlasts the 2 s hold');
    $out = stdoutOf($res);
    while ($res['status'] === 'continued') {
        $res = $c->execute(shared(), 'continue', 'phpcont');
        $out .= stdoutOf($res);
    }
    eq(['finished', 0, "a\nb\n"], [$res['status'], $res['exitCode'], $out]);
    eq("a\nb\n", $c->runCode(shared(), $code)->stdout());
});

T::test('live: batch build and exec', function (): void {
    $c = liveClient();
    $d = tempDir();
    file_put_contents("$d/main.py", "import sys\nprint('batch', open('built.txt').read().strip())\nsys.exit(4)\n");
    $c->upload(shared(), ['phpbatch/main.py' => "$d/main.py"]);
    $steps = [];
    $r = $c->runCode(shared(), '', 'batch', ['clean' => '', 'build' => 'cd phpbatch && echo built > built.txt', 'exec' => 'cd phpbatch && python3 main.py'],
        onStep: function (string $status, int $code) use (&$steps) { $steps[] = [$status, $code]; });
    check(in_array(['build-finished', 0], $steps, true), 'build step reported: ' . json_encode($steps));
    eq(['finished', 4, "batch built\n"], [$r->status, $r->exitCode, $r->stdout()]);
});

T::test('live: upload and download', function (): void {
    $c = liveClient();
    $d = tempDir();
    $f = fopen("$d/big.bin", 'wb');
    for ($i = 0; $i < 3; $i++) {
        fwrite($f, random_bytes(1 << 20));
    }
    fwrite($f, 'tail');
    fclose($f);
    file_put_contents("$d/small.txt", 'small file');
    $size = 3 * (1 << 20) + 4;
    $last = null;
    $c->upload(shared(), ['phpup/nested/big.bin' => "$d/big.bin", ['phpup/naïve name.txt', "$d/small.txt"]],
        function (int $sent, int $total) use (&$last) { $last = [$sent, $total]; });
    eq([$size + 10, $size + 10], $last, 'progress');
    $l = $c->listFiles(shared(), 'phpup/nested');
    eq('/home/work/phpup/nested', $l['abspath']);
    eq([['big.bin', $size]], array_map(fn ($e) => [$e['filename'], $e['size']], $l['files']));

    eq($size, $c->downloadSingle(shared(), 'phpup/nested/big.bin', "$d/back.bin"));
    eq(hash_file('sha256', "$d/big.bin"), hash_file('sha256', "$d/back.bin"), 'sha256 after the round trip');

    $written = $c->download(shared(), ['phpup'], "$d/out");
    sort($written);
    eq(["$d/out/phpup/naïve name.txt", "$d/out/phpup/nested/big.bin"], $written);
    eq(hash_file('sha256', "$d/big.bin"), hash_file('sha256', "$d/out/phpup/nested/big.bin"), 'sha256 through tar');

    $e = throws(Exception\NotFoundException::class, fn () => $c->downloadSingle(shared(), 'phpup/no-such-file', "$d/missing"));
    check(str_contains($e->msg, 'no-such-file'), 'the message names the file');
    check(!file_exists("$d/missing"), 'no file left behind');
    throws(Exception\InvalidArgumentException::class, fn () => $c->downloadSingle(shared(), '../etc/passwd', "$d/missing"));
});

T::test('live: execute stream with input', function (): void {
    $c = liveClient();
    $code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)\nx = input('? ')\nprint('got', x)";
    $frames = 0;
    $r = $c->runStream(shared(), $code, onConsole: function () use (&$frames) { $frames++; }, onInput: fn () => 'streamed');
    eq(['finished', 0, "0\n1\n2\n? got streamed\n"], [$r->status, $r->exitCode, $r->stdout()]);
    check($frames > 1, 'output streams in several frames');

    $statuses = [];
    $st = $c->executeStream(shared(), 'print(input())');
    foreach ($st as $frame) {
        $statuses[] = $frame['status'];
        if ($frame['status'] === 'waiting-input') {
            $st->sendInput('raw text frame');
        }
        if ($frame['status'] === 'finished') {
            check(in_array(['stdout', "raw text frame\n"], $frame['console'], true), 'input echoed: ' . json_encode($frame));
        }
    }
    eq(['waiting-input', 'finished'], [$statuses[0], end($statuses)]);
    throws(Exception\NotFoundException::class, fn () => $c->executeStream(unique('nosuch'), 'print(1)'));
});

T::test('live: interrupt', function (): void {
    $c = liveClient();
    $res = $c->execute(shared(), 'query', 'phpintr', "import time\ntime.sleep(60)");
    eq('continued', $res['status']);
    $start = microtime(true);
    $c->interrupt(shared());
    $err = '';
    while ($res['status'] === 'continued') {
        $res = $c->execute(shared(), 'continue', 'phpintr');
    }
    foreach ($res['console'] as [$type, $text]) {
        $err .= $type === 'stderr' ? $text : '';
    }
    eq('finished', $res['status']);
    check(microtime(true) - $start < 30, 'interrupted promptly');
    check(str_contains($err, 'KeyboardInterrupt'), 'KeyboardInterrupt in stderr: ' . $err);
    eq("after\n", $c->runCode(shared(), "print('after')")->stdout(), 'the session stays usable');
});

T::test('live: exec timeout', function (): void {
    $e = throws(Exception\ExecTimeoutException::class,
        fn () => liveClient()->runCode(shared(), "import time\ntime.sleep(30)", 'query', ['exec_timeout' => 1]));
    eq('exec-timeout', $e->result->status);
});

T::test('live: lifecycle with events', function (): void {
    $c = liveClient();
    $name = unique('phpl');
    $events = $c->sessionEvents($name, null, null, 30.0);
    try {
        $created = $c->createSession(LIVE_IMAGE, $name, ['enqueueOnly' => true, 'maxWaitSeconds' => 60,
            'resources' => ['cpu' => 1, 'mem' => '512m'], 'environ' => ['CLIENT_TEST_VAR' => 'from-env']]);
        T::cleanup(function () use ($c, $name) {
            try {
                $c->destroySession($name, true);
            } catch (Exception\NotFoundException | Exception\ConflictException) {
            }
        });
        eq(true, $created['created']);
        $started = $events->waitFor(fn ($e) => $e->event === 'session_started', 90);
        eq([$name, $created['sessionId'], 'RUNNING'], [$started->sessionName(), $started->sessionId(), $started->data['status']]);
        $info = $c->getSession($name);
        eq(['RUNNING', '1'], [$info['status'], $info['resourceSlots']['cpu'] ?? null]);
        eq("from-env\n", $c->runCode($name, "import os\nx = 1\nprint(os.environ['CLIENT_TEST_VAR'])")->stdout());

        $c->restartSession($name);
        $events->waitFor(fn ($e) => $e->event === 'session_restarted', 90);
        eq("False\n", $c->runCode($name, "print('x' in globals())")->stdout(), 'state lost on restart');

        check(array_key_exists('stats', $c->destroySession($name)), 'destroy answers stats');
        eq('SUCCESS', $events->waitFor(fn ($e) => $e->event === 'session_terminated', 60)->data['result']);
    } finally {
        $events->close();
    }
    $e = throws(Exception\ApiException::class, fn () => $c->runCode($name, 'print(1)'));
    check($e instanceof Exception\ConflictException || $e instanceof Exception\NotFoundException, 'ended session refuses runs: ' . get_class($e));
});

T::test('live: errors', function (): void {
    $c = liveClient();
    $missing = unique('missing');
    $e = throws(Exception\NotFoundException::class, fn () => $c->getSession($missing));
    eq([404, 'https://api.backend.ai/probs/not-found'], [$e->status, $e->type]);
    check(str_contains($e->msg, $missing) && str_contains($e->getMessage(), 'HTTP 404'), 'message: ' . $e->getMessage());

    $bad = liveClient(['secretKey' => 'not-the-secret-key-of-this-keypair-0000']);
    $e = throws(Exception\AuthenticationException::class, fn () => $bad->listSessions());
    eq(401, $e->status);
    check($e->msg !== '' && !str_contains($e->getMessage(), 'not-the-secret'), 'says why, without the key');
    throws(Exception\AuthenticationException::class, fn () => liveClient(['accessKey' => 'AKIANOSUCHKEY0000000'])->sessionEvents());

    $e = throws(Exception\InvalidArgumentException::class, fn () => $c->createSession('no-such-image:0', unique('badimg')));
    check(str_contains($e->msg, 'python'), 'lists the available images: ' . $e->msg);
    throws(Exception\UnreachableException::class, fn () => liveClient(['endpoint' => 'http://127.0.0.1:1', 'timeout' => 5.0])->listSessions());
    $info = liveClient(['secretKey' => 'wrong-but-unused'])->serverInfo();
    check((bool) preg_match('/^v\d+\.\d{8}$/', $info['version']), 'version: ' . $info['version']);
});
