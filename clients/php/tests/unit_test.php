<?php

// Unit tests without a server: signing against the Go side's published
// vectors (common/sign/sign_test.go), configuration, WebSocket framing over
// a real socket pair, SSE lines, multipart bodies, tar extraction, console
// items and problem+json answers.

declare(strict_types=1);

use Bai\Client\Client;
use Bai\Client\Config;
use Bai\Client\ConsoleItem;
use Bai\Client\Exception;
use Bai\Client\FormData;
use Bai\Client\MultipartReader;
use Bai\Client\Signer;
use Bai\Client\SseParser;
use Bai\Client\Tar;
use Bai\Client\WebSocket;

const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const DATE = '2026-11-27T06:48:23.126693+00:00';

/** The vectors of common/sign/sign_test.go (TestSignatureVectors): [name, string-to-sign parts, date, signature]. */
function goVectors(): array
{
    return [
        ['v6 empty body hash', ['POST', '/session/abc?x=1', DATE, '127.0.0.1:8081', 'application/json', 'v6.20220315', ''],
            DATE, '3988c475c3d676cb6e10a1601498f1d430db00b90a0e09cba870eff10c4678b9'],
        ['v3 real body hash', ['POST', '/kernel/create', DATE, '127.0.0.1:8081', 'application/json', 'v3.20170615', hash('sha256', '{"lang":"python"}')],
            DATE, '63134a03d6eec7ec7a31b01f0c49758f923212c0c627343eff972a961dda3635'],
        // The key uses the calendar day the client wrote (2026-11-28 in
        // +09:00), not the UTC day (2026-11-27 20:00 UTC).
        ['offset date', ['GET', '/session', '2026-11-28T05:00:00+09:00', '127.0.0.1:8081', 'text/plain', 'v6.20220315', ''],
            '2026-11-28T05:00:00+09:00', 'ef9b11dc91f392799b74c53a8250080f018e347f0c8c4d2453075de4e8da025d'],
    ];
}

T::test('signing: Go vectors', function (): void {
    foreach (goVectors() as [$name, $parts, $date, $want]) {
        $sts = Signer::stringToSign(...$parts);
        eq($want, Signer::signature(SECRET, $parts[3], $sts, new DateTimeImmutable($date)), $name);
    }
});

T::test('signing: every part is signed', function (): void {
    [, $parts, $date, $want] = goVectors()[0];
    foreach ([0 => 'GET', 1 => '/session/abc?x=2', 3 => '127.0.0.1:8082', 4 => 'text/plain', 5 => 'v5.20191215'] as $i => $v) {
        $p = $parts;
        $p[$i] = $v;
        check(Signer::signature(SECRET, $p[3], Signer::stringToSign(...$p), new DateTimeImmutable($date)) !== $want, "part $i changes the signature");
    }
    $p = $parts;
    $p[4] = 'Application/JSON';
    eq($want, Signer::signature(SECRET, $p[3], Signer::stringToSign(...$p), new DateTimeImmutable($date)), 'content type is lowercased');
    eq("POST\n/session/abc?x=1\n" . DATE . "\nhost:127.0.0.1:8081\ncontent-type:application/json\nx-backendai-version:v6.20220315\n" . Signer::EMPTY_BODY_HASH,
        Signer::stringToSign(...$parts));
});

T::test('signing: headers', function (): void {
    $when = new DateTimeImmutable(DATE);
    $h = Signer::headers('AKIATEST', SECRET, 'POST', '/session/abc?x=1', '127.0.0.1:8081', 'application/json', 'v6.20220315', '{"ignored": true}', $when);
    eq(['X-BackendAI-Version' => 'v6.20220315', 'X-BackendAI-Date' => DATE,
        'Authorization' => 'BackendAI signMethod=HMAC-SHA256, credential=AKIATEST:' . goVectors()[0][3]], $h);
    $h = Signer::headers('AK', SECRET, 'POST', '/kernel/create', '127.0.0.1:8081', 'application/json', 'v3.20170615', '{"lang":"python"}', $when);
    check(str_ends_with($h['Authorization'], ':' . goVectors()[1][3]), 'v3 signs the body hash');
    throws(\InvalidArgumentException::class, fn () => Signer::headers('AK', SECRET, 'POST', '/x', 'h', 'a/b', 'v3.20170615', null, $when));
    eq('2026-11-27T20:00:00.000000+00:00', Signer::formatDate(new DateTimeImmutable('2026-11-28T05:00:00+09:00')));
});

T::test('signing: versions', function (): void {
    // The table of common/sign/sign_test.go (TestHashesBody).
    foreach (['v3.20170615' => true, 'v4.20181126' => true, 'v4.20181215' => false, 'v4.20190615' => false,
        'v5.20191215' => false, 'v6.20220315' => false] as $v => $want) {
        eq($want, Signer::hashesBody($v), $v);
    }
    foreach (['', '6', 'v', 'vx.1', 'v6.2022'] as $bad) {
        throws(\InvalidArgumentException::class, fn () => Signer::parseVersion($bad));
    }
});

T::test('config: environment, overrides and errors', function (): void {
    $cfg = Config::fromEnv(['BACKEND_ACCESS_KEY' => ' AK ', 'BACKEND_SECRET_KEY' => 'SK']);
    eq(['http://127.0.0.1:8081', 'AK', 'SK'], [$cfg->endpoint, $cfg->accessKey, $cfg->secretKey]);
    $cfg = Config::fromEnv(['BACKEND_ENDPOINT' => 'https://bai.example:9000/api', 'BACKEND_ACCESS_KEY' => 'AK', 'BACKEND_SECRET_KEY' => 'SK'], ['accessKey' => 'OTHER']);
    eq(['https://bai.example:9000/api', 'OTHER'], [$cfg->endpoint, $cfg->accessKey]);
    $e = throws(Exception\ConfigException::class, fn () => Config::fromEnv([]));
    check(str_contains($e->getMessage(), 'BACKEND_ACCESS_KEY'), 'the error names what to set');
    $c = new Client(new Config('http://10.0.0.1:1234/', 'A', 'S'));
    eq('http://10.0.0.1:1234', $c->endpoint());
    foreach ([['endpoint' => 'ftp://x'], ['endpoint' => 'localhost'], ['apiVersion' => 'v4.20190615'], ['apiVersion' => 'six'], ['nosuch' => 1]] as $o) {
        throws(Exception\ConfigException::class, fn () => new Client(new Config('http://h:1', 'A', 'S'), $o));
    }
    $c = new Client(new Config('http://h:1', 'AKIAVISIBLE', 'very-secret-value'));
    foreach ([print_r($c, true), print_r($c->config, true), (function () use ($c) { ob_start(); var_dump($c, $c->config); return ob_get_clean(); })()] as $text) {
        check(!str_contains($text, 'very-secret-value'), 'the secret key is not dumped');
    }
});

/** An unmasked frame as a server sends it. */
function serverFrame(int $op, string $payload, bool $fin = true): string
{
    $n = strlen($payload);
    $head = chr(($fin ? 0x80 : 0) | $op);
    if ($n < 126) {
        $head .= chr($n);
    } elseif ($n < 65536) {
        $head .= chr(126) . pack('n', $n);
    } else {
        $head .= chr(127) . pack('J', $n);
    }
    return $head . $payload;
}

/** @return array{WebSocket, resource} a client WebSocket and the server's end of a real socket pair */
function wsPair(): array
{
    [$a, $b] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
    stream_set_timeout($a, 5);
    stream_set_timeout($b, 5);
    return [new WebSocket($a), $b];
}

function readClientFrame($server): array
{
    return WebSocket::readFrame(fn (int $n) => Bai\Client\Http\Stream::readExact($server, $n));
}

T::test('websocket: handshake key and masking', function (): void {
    // RFC 6455 section 1.3 and 5.7.
    eq('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', WebSocket::acceptKey('dGhlIHNhbXBsZSBub25jZQ=='));
    eq('818537fa213d7f9f4d5158', bin2hex(WebSocket::encodeFrame(WebSocket::OP_TEXT, 'Hello', true, "\x37\xfa\x21\x3d")));
    foreach ([125 => 0, 126 => 2, 65535 => 2, 65536 => 8] as $n => $lenBytes) {
        $frame = WebSocket::encodeFrame(WebSocket::OP_BINARY, str_repeat('x', $n), true, 'abcd');
        eq(2 + $lenBytes + 4 + $n, strlen($frame), "frame of $n");
        $off = 0;
        [$fin, $op, $payload] = WebSocket::readFrame(function (int $k) use ($frame, &$off) {
            $s = substr($frame, $off, $k);
            $off += $k;
            return $s;
        });
        eq([true, WebSocket::OP_BINARY, str_repeat('x', $n)], [$fin, $op, $payload]);
    }
});

T::test('websocket: fragments, pings and close over a socket pair', function (): void {
    [$ws, $server] = wsPair();
    fwrite($server, serverFrame(WebSocket::OP_TEXT, '{"status": ', false) . serverFrame(WebSocket::OP_PING, 'are you there')
        . serverFrame(0, '"finished"}') . serverFrame(WebSocket::OP_TEXT, str_repeat('é', 40000))
        . serverFrame(WebSocket::OP_CLOSE, pack('n', 1000) . 'finished'));
    eq([WebSocket::OP_TEXT, '{"status": "finished"}'], $ws->recv());
    eq([true, WebSocket::OP_PONG, 'are you there'], readClientFrame($server));
    eq([WebSocket::OP_TEXT, str_repeat('é', 40000)], $ws->recv());
    eq(null, $ws->recv());
    eq([1000, 'finished'], [$ws->closeCode, $ws->closeReason]);
    [, $op, $payload] = readClientFrame($server);
    eq([WebSocket::OP_CLOSE, pack('n', 1000)], [$op, substr($payload, 0, 2)], 'close echoed');

    [$ws, $server] = wsPair();
    $ws->sendText('answer');
    eq([true, WebSocket::OP_TEXT, 'answer'], readClientFrame($server));

    [$ws, $server] = wsPair();
    fwrite($server, substr(serverFrame(WebSocket::OP_TEXT, 'partial'), 0, 4));
    stream_socket_shutdown($server, STREAM_SHUT_WR);
    throws(Exception\TransportException::class, fn () => $ws->recv());
    [$ws, $server] = wsPair();
    fwrite($server, chr(0x80 | 0x40 | WebSocket::OP_TEXT) . chr(1) . 'x');
    throws(Exception\ProtocolException::class, fn () => $ws->recv());
    [$ws, $server] = wsPair();
    fwrite($server, serverFrame(0, 'orphan'));
    throws(Exception\ProtocolException::class, fn () => $ws->recv());
});

T::test('sse: parsing', function (): void {
    $p = new SseParser();
    $events = [];
    $text = ": bai session events\n\nevent: session_started\ndata: {\"sessionName\": \"a\"}\n\n: keep-alive\n\n"
        . "data: line one\r\ndata:line two\r\nid: 7\r\n\r\nevent: only-a-name\n\nretry: 3000\nevent: x\ndata\n\ndata: unterminated";
    foreach (preg_split('/(?<=\n)/', $text) as $line) {
        if (($ev = $p->feed($line)) !== null) {
            $events[] = [$ev['event'], $ev['data'], $ev['id']];
        }
    }
    eq([['session_started', '{"sessionName": "a"}', ''], ['message', "line one\nline two", '7'], ['x', '', '7']], $events);
    eq(3000, $p->retry);
});

/** A source with read($n) that hands out at most 7 bytes a read, so delimiters straddle reads. */
function trickle(string $data): object
{
    return new class ($data) {
        public function __construct(private string $data)
        {
        }

        public function read(int $n): string
        {
            $out = substr($this->data, 0, min(7, $n));
            $this->data = (string) substr($this->data, strlen($out));
            return $out;
        }
    };
}

T::test('multipart: form data streams files with the announced length', function (): void {
    $dir = sys_get_temp_dir() . '/bai-php-unit-' . bin2hex(random_bytes(4));
    mkdir($dir);
    try {
        $contents = ['', 'hello', random_bytes(200000)];
        $files = [];
        foreach (['empty', 'a "quoted" name', 'sub/dir/naïve.bin'] as $i => $name) {
            file_put_contents("$dir/f$i", $contents[$i]);
            $files[] = ['name' => $name, 'path' => "$dir/f$i", 'size' => strlen($contents[$i])];
        }
        $form = new FormData($files);
        $body = '';
        $progress = 0;
        $form->writeTo(function (string $c) use (&$body) { $body .= $c; }, function (int $n) use (&$progress) { $progress += $n; });
        eq($form->length(), strlen($body), 'Content-Length');
        eq(200005, $progress);
        $got = [];
        foreach ((new MultipartReader(trickle($body), $form->boundary))->parts() as $part) {
            $data = '';
            while (($c = ($part['read'])(4096)) !== '') {
                $data .= $c;
            }
            $got[] = [$part['headers']['content-disposition'], $data];
        }
        eq([
            ['form-data; name="src"; filename="empty"', ''],
            ['form-data; name="src"; filename="a \"quoted\" name"', 'hello'],
            ["form-data; name=\"src\"; filename*=utf-8''sub%2Fdir%2Fna%C3%AFve.bin", $contents[2]],
        ], $got);
    } finally {
        array_map('unlink', glob("$dir/*"));
        rmdir($dir);
    }
});

T::test('multipart: reader edge cases', function (): void {
    $payloads = ['first', '', "--b0undary is not a delimiter without CRLF\r\n--b0undar", random_bytes(70000)];
    $body = '';
    foreach ($payloads as $p) {
        $body .= "--b0undary\r\nContent-Type: application/x-tar\r\n\r\n$p\r\n";
    }
    $body .= "--b0undary--\r\n";
    $got = [];
    foreach ((new MultipartReader(trickle($body), 'b0undary'))->parts() as $part) {
        $data = '';
        while (($c = ($part['read'])(1000)) !== '') {
            $data .= $c;
        }
        $got[] = $data;
    }
    eq($payloads, $got);
    $n = 0;
    foreach ((new MultipartReader(trickle($body), 'b0undary'))->parts() as $part) {
        $n++; // parts left unread are skipped
    }
    eq(4, $n);
    throws(Exception\ProtocolException::class, function () use ($body) {
        foreach ((new MultipartReader(trickle(substr($body, 0, -20)), 'b0undary'))->parts() as $part) {
        }
    });
});

/** A ustar header block (checksum filled in) followed by the data padded to 512. */
function tarEntry(string $name, string $data = '', string $type = '0', string $link = ''): string
{
    $h = str_pad($name, 100, "\0") . str_pad('0000644', 8, "\0") . str_pad('0', 8, "\0") . str_pad('0', 8, "\0")
        . str_pad(sprintf('%011o', strlen($data)), 12, "\0") . str_pad(sprintf('%011o', 1700000000), 12, "\0")
        . '        ' . $type . str_pad($link, 100, "\0") . "ustar\x0000" . str_repeat("\0", 247);
    $sum = array_sum(array_map('ord', str_split($h)));
    $h = substr_replace($h, sprintf("%06o\0 ", $sum), 148, 8);
    return $h . $data . str_repeat("\0", (512 - strlen($data) % 512) % 512);
}

T::test('tar: extraction stays inside the destination', function (): void {
    $long = str_repeat('d', 120) . '/long.txt';
    // A PAX record is "<len> path=<value>\n", its length counting its own digits.
    $rec = " path=$long\n";
    $len = strlen($rec) + strlen((string) strlen($rec));
    $len += strlen((string) $len) - strlen((string) strlen($rec));
    $pax = $len . $rec;
    $archive = tarEntry('ok/', '', '5') . tarEntry('ok/file.txt', 'hello') . tarEntry('../evil.txt', 'evil')
        . tarEntry('/abs.txt', 'abs') . tarEntry('ok/link', '', '2', '/etc') . tarEntry('ok/link/passwd', 'through the link')
        . tarEntry('PaxHeaders/x', $pax, 'x') . tarEntry('truncated-name', 'pax named') . str_repeat("\0", 1024);
    $parent = sys_get_temp_dir() . '/bai-php-tar-' . bin2hex(random_bytes(4));
    mkdir("$parent/dest", 0o755, true);
    try {
        $src = trickle($archive);
        $written = Tar::extract(fn (int $n) => $src->read($n), "$parent/dest");
        check(in_array("$parent/dest/ok/file.txt", $written, true), 'ok/file.txt written');
        eq('hello', file_get_contents("$parent/dest/ok/file.txt"));
        eq('abs', file_get_contents("$parent/dest/abs.txt"), 'absolute names become relative');
        eq('pax named', file_get_contents("$parent/dest/$long"), 'PAX path');
        check(!file_exists("$parent/evil.txt"), 'nothing above the destination');
        check(!is_link("$parent/dest/ok/link"), 'links are not made');
        $bad = tarEntry('x', 'y');
        $bad[0] = 'z';
        $src = trickle($bad);
        throws(Exception\ProtocolException::class, fn () => Tar::extract(fn (int $n) => $src->read($n), "$parent/dest"));
    } finally {
        exec('rm -rf ' . escapeshellarg($parent));
    }
});

T::test('console items and problems', function (): void {
    $cases = [
        [['stdout', "hi\n"], ['stdout', "hi\n", '']],
        [['media', ['image/svg+xml', '<svg/>']], ['media', '<svg/>', 'image/svg+xml']],
        [['media', ['type' => 'image/png', 'data' => 'iVBOR']], ['media', 'iVBOR', 'image/png']],
        [['log', ['INFO', 1.5, 'root', 'message']], ['log', 'message', '']],
        [['completion', ['a', 'b']], ['completion', '', '']],
        ['garbage', ['', '', '']],
    ];
    foreach ($cases as [$raw, $want]) {
        $it = ConsoleItem::decode($raw);
        eq($want, [$it->type, $it->text, $it->mime], json_encode($raw));
    }
    $e = Exception\ApiException::fromResponse(404, '{"type": "https://api.backend.ai/probs/not-found", "title": "Not found.", "msg": "session \"x\"", "status": 404}');
    check($e instanceof Exception\NotFoundException, 'a 404 is a NotFoundException');
    eq([404, 'https://api.backend.ai/probs/not-found', 'session "x"', 'Not found (HTTP 404): session "x"'], [$e->status, $e->type, $e->msg, $e->getMessage()]);
    foreach ([400 => Exception\InvalidArgumentException::class, 401 => Exception\AuthenticationException::class,
        403 => Exception\PermissionDeniedException::class, 409 => Exception\ConflictException::class,
        412 => Exception\QuotaExceededException::class, 413 => Exception\TooLargeException::class,
        429 => Exception\RateLimitedException::class, 503 => Exception\UnavailableException::class,
        418 => Exception\ApiException::class] as $status => $class) {
        eq($class, get_class(Exception\ApiException::fromResponse($status, '{}')), "status $status");
    }
    eq('Bad Gateway (HTTP 502): bad gateway', Exception\ApiException::fromResponse(502, "bad gateway\n")->getMessage());
});
