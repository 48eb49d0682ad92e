<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ApiException;
use Bai\Client\Exception\ExecTimeoutException;
use Bai\Client\Exception\ProtocolException;
use Bai\Client\Exception\TransportException;
use Bai\Client\Http\Response;
use Bai\Client\Http\Stream;

/**
 * A client for the bai manager's Backend.AI-compatible API: signed
 * requests, sessions, the execute loop, files, the execute WebSocket stream
 * and the session events stream. The Go SDK (clients/go) is the reference
 * for behaviour; method names are its names in camelCase.
 *
 * new Client() reads BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
 * BACKEND_SECRET_KEY; a Config or named overrides win. Every call opens
 * its own connection.
 */
final class Client
{
    public const MAX_UPLOAD_FILES = 20;
    public const MODE_QUERY = 'query';
    public const MODE_BATCH = 'batch';
    public const MODE_CONTINUE = 'continue';
    public const MODE_INPUT = 'input';

    private const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;

    public readonly Config $config;
    private string $scheme;
    private string $host;
    private int $port;
    private string $netloc; // signed as the host, and sent as Host
    private string $basePath;
    /** @var \Closure(): \DateTimeInterface */
    private \Closure $clock;

    /**
     * @param array<string, mixed> $overrides Config properties (endpoint, accessKey, secretKey, apiVersion, userAgent, timeout)
     */
    public function __construct(?Config $config = null, array $overrides = [], ?\Closure $clock = null)
    {
        $cfg = $config !== null ? clone $config : new Config(
            trim((string) getenv(Config::ENV_ENDPOINT)) ?: Config::DEFAULT_ENDPOINT,
            trim((string) getenv(Config::ENV_ACCESS_KEY)),
            trim((string) getenv(Config::ENV_SECRET_KEY)),
        );
        foreach ($overrides as $k => $v) {
            if ($v === null) {
                continue;
            }
            if (!property_exists($cfg, $k)) {
                throw new Exception\ConfigException("unknown configuration setting \"$k\"");
            }
            $cfg->$k = $v;
        }
        $cfg->validate();
        $this->config = $cfg;
        $u = parse_url(rtrim($cfg->endpoint, '/'));
        $this->scheme = $u['scheme'];
        $this->host = $u['host'];
        $this->port = $u['port'] ?? ($this->scheme === 'https' ? 443 : 80);
        $this->netloc = $u['host'] . (isset($u['port']) ? ':' . $u['port'] : '');
        $this->basePath = rtrim($u['path'] ?? '', '/');
        $this->clock = $clock ?? static fn (): \DateTimeInterface => new \DateTimeImmutable('now', new \DateTimeZone('UTC'));
    }

    public function endpoint(): string
    {
        return "{$this->scheme}://{$this->netloc}{$this->basePath}";
    }

    /** Keep the secret key out of var_dump() and print_r(). */
    public function __debugInfo(): array
    {
        return ['endpoint' => $this->endpoint(), 'accessKey' => $this->config->accessKey];
    }

    // -- HTTP plumbing ---------------------------------------------------

    /** @param array<string, string|list<string>> $query */
    private function pathQuery(string $path, array $query = []): string
    {
        $pq = $this->basePath . $path;
        $pairs = [];
        foreach ($query as $k => $vs) {
            foreach ((array) $vs as $v) {
                $pairs[] = rawurlencode((string) $k) . '=' . rawurlencode((string) $v);
            }
        }
        return $pairs === [] ? $pq : $pq . '?' . implode('&', $pairs);
    }

    /** @return array<string, string> */
    private function signed(string $method, string $pathQuery, string $contentType, ?string $body): array
    {
        return Signer::headers($this->config->accessKey, $this->config->secretKey, $method, $pathQuery, $this->netloc,
            $contentType, $this->config->apiVersion, $body, ($this->clock)());
    }

    /**
     * Send one request and return the open answer; statuses >= 400 throw
     * the ApiException of the problem body. $body is a string, or a closure
     * that writes the body through the callable it is given, $length bytes.
     *
     * @param array<string, string|list<string>> $query
     */
    private function open(
        string $method,
        string $path,
        array $query = [],
        string|\Closure $body = '',
        ?int $length = null,
        string $contentType = 'text/plain',
        string $accept = 'application/json',
        bool $sign = true,
        ?float $timeout = null,
    ): Response {
        $pq = $this->pathQuery($path, $query);
        $headers = [
            'Host' => $this->netloc,
            'Content-Type' => $contentType,
            'Accept' => $accept,
            'User-Agent' => $this->config->userAgent,
            'Connection' => 'close',
        ];
        if (is_string($body)) {
            if ($body !== '' || !in_array($method, ['GET', 'HEAD'], true)) {
                $headers['Content-Length'] = (string) strlen($body);
            }
        } else {
            if ($length === null) {
                throw new \LogicException('a streamed body needs its length');
            }
            $headers['Content-Length'] = (string) $length;
        }
        if ($sign) {
            $headers += $this->signed($method, $pq, $contentType, is_string($body) ? $body : null);
        }
        $fp = Stream::connect($this->scheme, $this->host, $this->port, $timeout ?? $this->config->timeout, $this->endpoint());
        $head = "$method $pq HTTP/1.1\r\n";
        foreach ($headers as $k => $v) {
            $head .= "$k: $v\r\n";
        }
        $sendError = null;
        try {
            Stream::writeAll($fp, $head . "\r\n");
            if (is_string($body)) {
                if ($body !== '') {
                    Stream::writeAll($fp, $body);
                }
            } else {
                $body(static fn (string $chunk) => Stream::writeAll($fp, $chunk));
            }
        } catch (TransportException $e) {
            // The server may refuse a request (unknown session, too large)
            // before reading the whole body; its answer says why.
            $sendError = $e;
        } catch (\Throwable $e) {
            fclose($fp);
            throw $e;
        }
        try {
            [$status, $respHeaders] = Stream::readHead($fp);
        } catch (TransportException $e) {
            fclose($fp);
            throw new TransportException("$method $path: " . ($sendError ?? $e)->getMessage(), 0, $e);
        }
        $resp = new Response($fp, $status, $respHeaders, $method);
        if ($status >= 400) {
            try {
                $data = $resp->readAll(1 << 20);
            } catch (\Throwable) {
                $data = '';
            }
            $resp->close();
            throw ApiException::fromResponse($status, $data);
        }
        if ($sendError !== null) {
            $resp->close();
            throw new TransportException("$method $path: " . $sendError->getMessage(), 0, $sendError);
        }
        return $resp;
    }

    /**
     * A request with an optional JSON body and a JSON (or empty) answer.
     *
     * @param array<string, string|list<string>> $query
     */
    private function call(string $method, string $path, array $query = [], mixed $json = null, bool $sign = true): mixed
    {
        $body = $json === null ? '' : json_encode($json, self::JSON_FLAGS);
        $resp = $this->open($method, $path, $query, $body, null, $json === null ? 'text/plain' : 'application/json', 'application/json', $sign);
        try {
            $data = $resp->readAll();
        } finally {
            $resp->close();
        }
        if ($resp->status === 204 || trim($data) === '') {
            return null;
        }
        try {
            return json_decode($data, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new ProtocolException("$method $path: answer is not JSON: " . substr($data, 0, 200), 0, $e);
        }
    }

    private static function sessionPath(string $name, string ...$suffix): string
    {
        return '/session/' . rawurlencode($name) . implode('', array_map(static fn ($s) => '/' . $s, $suffix));
    }

    // -- server and sessions -----------------------------------------------

    /** GET / (unsigned): ["version", "manager"]. */
    public function serverInfo(): array
    {
        return $this->call('GET', '/', [], null, false);
    }

    /** The kernel images the manager knows. */
    public function images(): array
    {
        return $this->call('GET', '/images')['items'] ?? [];
    }

    /**
     * Create a session of $image (e.g. python:3.11-debian, or an alias such
     * as python), or get the live one of that name when reuseIfExists allows
     * it (the server's default). Without enqueueOnly the answer comes once
     * the session runs, failed, or maxWaitSeconds passed.
     *
     * $options: resources (["cpu" => 1, "mem" => "512m"]), environ,
     * enqueueOnly, maxWaitSeconds, reuseIfExists, type, tag, group,
     * scalingGroup, extra (raw fields added to the body).
     *
     * @param array<string, mixed> $options
     */
    public function createSession(string $image, ?string $name = null, array $options = []): array
    {
        $known = ['resources', 'environ', 'enqueueOnly', 'maxWaitSeconds', 'reuseIfExists', 'type', 'tag', 'group', 'scalingGroup', 'extra'];
        if ($unknown = array_diff(array_keys($options), $known)) {
            throw new \InvalidArgumentException('createSession: unknown options ' . implode(', ', $unknown) . '; known: ' . implode(', ', $known));
        }
        $body = ['image' => $image];
        if ($name !== null && $name !== '') {
            $body['name'] = $name;
        }
        foreach (['type', 'tag', 'group'] as $k) {
            if (isset($options[$k])) {
                $body[$k] = $options[$k];
            }
        }
        if (!empty($options['enqueueOnly'])) {
            $body['enqueueOnly'] = true;
        }
        if (isset($options['maxWaitSeconds'])) {
            $body['maxWaitSeconds'] = (int) $options['maxWaitSeconds'];
        }
        if (isset($options['reuseIfExists'])) {
            $body['reuseIfExists'] = (bool) $options['reuseIfExists'];
        }
        $config = [];
        if (!empty($options['resources'])) {
            $config['resources'] = $options['resources'];
        }
        if (!empty($options['environ'])) {
            $config['environ'] = $options['environ'];
        }
        if (isset($options['scalingGroup'])) {
            $config['scaling_group'] = $options['scalingGroup'];
        }
        if ($config !== []) {
            $body['config'] = $config;
        }
        $body = array_merge($body, $options['extra'] ?? []);
        $out = $this->call('POST', '/session', [], $body);
        if (($out['sessionId'] ?? '') === '') {
            $out['sessionId'] = $out['kernelId'] ?? '';
        }
        return $out;
    }

    /** The information of a session by name or id (status, image, slots, createdAt, ...). */
    public function getSession(string $name): array
    {
        return $this->call('GET', self::sessionPath($name));
    }

    /** The caller's sessions that are not destroyed. */
    public function listSessions(): array
    {
        return $this->call('GET', '/session')['items'] ?? [];
    }

    /** Terminate a session; $forced skips the graceful shutdown. Answers ["stats" => [...]]. */
    public function destroySession(string $name, bool $forced = false): array
    {
        return $this->call('DELETE', self::sessionPath($name), $forced ? ['forced' => 'true'] : []) ?? [];
    }

    /** Restart the session's kernel: its state is lost, its files kept. */
    public function restartSession(string $name): void
    {
        $this->call('PATCH', self::sessionPath($name));
    }

    /** Interrupt the code running in a session. */
    public function interrupt(string $name): void
    {
        $this->call('POST', self::sessionPath($name, 'interrupt'));
    }

    /**
     * Completions of $code from the session's kernel; $options may carry row, col, line and post.
     *
     * @param array<string, mixed> $options
     */
    public function complete(string $name, string $code, array $options = []): array
    {
        $body = ['code' => $code];
        if ($options !== []) {
            $body['options'] = $options;
        }
        return $this->call('POST', self::sessionPath($name, 'complete'), [], $body)['result'] ?? [];
    }

    /** The container logs of a session. */
    public function logs(string $name): string
    {
        return (string) ($this->call('GET', self::sessionPath($name, 'logs'))['result']['logs'] ?? '');
    }

    // -- execute ---------------------------------------------------------------

    /**
     * One execute request (query, batch, continue, input); answers the
     * "result" object. runCode drives the whole loop on top of it.
     *
     * @param array<string, mixed>|null $options
     */
    public function execute(string $name, string $mode, string $runId, string $code = '', ?array $options = null): array
    {
        $body = ['mode' => $mode, 'runId' => $runId, 'code' => $code];
        if ($options !== null) {
            $body['options'] = (object) $options;
        }
        $out = $this->call('POST', self::sessionPath($name), [], $body);
        if (!is_array($out) || !is_array($out['result'] ?? null)) {
            throw new ProtocolException("execute in session $name: answer without a result object");
        }
        return $out['result'];
    }

    /**
     * Run $code and drive the execute loop to its end: post it (mode query,
     * or batch with options ["clean", "build", "exec"]), call again with mode
     * continue while the status is continued (and after a batch run's clean
     * and build steps), answer waiting-input with $onInput(InputRequest)
     * (an empty line when null), and hand every ConsoleItem to $onConsole as
     * it arrives; $onStep(status, exitCode) hears of clean-finished and
     * build-finished. An exec-timeout throws ExecTimeoutException.
     *
     * @param array<string, mixed>|null $options
     */
    public function runCode(
        string $name,
        string $code,
        string $mode = self::MODE_QUERY,
        ?array $options = null,
        ?callable $onConsole = null,
        ?callable $onInput = null,
        ?callable $onStep = null,
    ): RunResult {
        $runId = bin2hex(random_bytes(8));
        $result = new RunResult($runId);
        [$reqMode, $reqCode, $reqOpts] = [$mode !== '' ? $mode : self::MODE_QUERY, $code, $options];
        while (true) {
            $res = $this->execute($name, $reqMode, $runId, $reqCode, $reqOpts);
            $runId = ($res['runId'] ?? '') !== '' ? $res['runId'] : $runId;
            $result->runId = $runId;
            self::absorb($result, $res, $onConsole);
            [$reqMode, $reqCode, $reqOpts] = [self::MODE_CONTINUE, '', null];
            switch ($result->status) {
                case 'finished':
                    return $result;
                case 'exec-timeout':
                    throw new ExecTimeoutException($runId, $result);
                case 'clean-finished':
                case 'build-finished':
                    if ($onStep !== null) {
                        $onStep($result->status, $result->exitCode ?? 0);
                    }
                    break;
                case 'waiting-input':
                    [$reqMode, $reqCode] = [self::MODE_INPUT, self::ask($onInput, $res['options'] ?? [])];
                    break;
                case 'continued':
                    break;
                default:
                    throw new ProtocolException("run $runId: unknown execute status \"{$result->status}\"");
            }
        }
    }

    /** @param array<string, mixed> $res */
    private static function absorb(RunResult $result, array $res, ?callable $onConsole): void
    {
        $result->status = (string) ($res['status'] ?? '');
        if (is_int($res['exitCode'] ?? null)) {
            $result->exitCode = $res['exitCode'];
        }
        foreach ($res['console'] ?? [] as $raw) {
            $item = ConsoleItem::decode($raw);
            $result->console[] = $item;
            if ($onConsole !== null) {
                $onConsole($item);
            }
        }
        foreach ($res['files'] ?? [] as $f) {
            $result->files[] = $f;
        }
    }

    private static function ask(?callable $onInput, mixed $options): string
    {
        $opts = is_array($options) ? $options : [];
        return $onInput === null ? '' : (string) $onInput(new InputRequest((bool) ($opts['is_password'] ?? false), $opts));
    }

    // -- execute stream (WebSocket) ---------------------------------------------

    /**
     * Open GET /stream/session/{name}/execute and send the run. Iterate the
     * returned ExecuteStream for frames; answer a waiting-input frame with
     * sendInput().
     *
     * @param array<string, mixed>|null $options
     */
    public function executeStream(string $name, string $code, string $mode = self::MODE_QUERY, ?array $options = null, ?float $timeout = null): ExecuteStream
    {
        $pq = $this->pathQuery('/stream' . self::sessionPath($name, 'execute'));
        // The handshake sends no Content-Type; the manager treats that as
        // application/octet-stream, so that is what is signed.
        $headers = ['User-Agent' => $this->config->userAgent] + $this->signed('GET', $pq, 'application/octet-stream', '');
        $ws = WebSocket::connect($this->scheme, $this->host, $this->port, $this->netloc, $pq, $headers,
            $timeout ?? $this->config->timeout, $this->endpoint());
        $ws->sendText(json_encode(['mode' => $mode !== '' ? $mode : self::MODE_QUERY, 'code' => $code, 'options' => (object) ($options ?? [])], self::JSON_FLAGS));
        return new ExecuteStream($ws);
    }

    /**
     * runCode over the execute stream: output arrives as the run goes
     * (frames every 200 ms), input is answered on the same socket.
     *
     * @param array<string, mixed>|null $options
     */
    public function runStream(
        string $name,
        string $code,
        string $mode = self::MODE_QUERY,
        ?array $options = null,
        ?callable $onConsole = null,
        ?callable $onInput = null,
        ?callable $onStep = null,
    ): RunResult {
        $result = new RunResult();
        $st = $this->executeStream($name, $code, $mode, $options);
        try {
            foreach ($st as $frame) {
                self::absorb($result, $frame, $onConsole);
                switch ($result->status) {
                    case 'finished':
                        return $result;
                    case 'exec-timeout':
                        throw new ExecTimeoutException($result->runId, $result);
                    case 'clean-finished':
                    case 'build-finished':
                        if ($onStep !== null) {
                            $onStep($result->status, $result->exitCode ?? 0);
                        }
                        break;
                    case 'waiting-input':
                        $st->sendInput(self::ask($onInput, $frame['options'] ?? []));
                        break;
                }
            }
        } finally {
            $st->close();
        }
        throw new TransportException("execute stream of session $name ended before the run finished");
    }

    // -- events (SSE) ------------------------------------------------------------

    /**
     * Open GET /events/session: lifecycle events of the caller's sessions,
     * narrowed by name or session id ($scope "*" for every tenant's,
     * superadmins only). $timeout bounds each read; the server sends a
     * keep-alive comment every 15 s. Once this returns, the subscription is
     * live, so events of sessions created after it are seen.
     */
    public function sessionEvents(?string $name = null, ?string $sessionId = null, ?string $scope = null, float $timeout = 60.0): EventStream
    {
        $q = array_filter(['name' => $name, 'sessionId' => $sessionId, 'scope' => $scope], static fn ($v) => $v !== null && $v !== '');
        $resp = $this->open('GET', '/events/session', $q, '', null, 'text/plain', 'text/event-stream', true, $timeout);
        if ($resp->mediaType() !== 'text/event-stream') {
            $resp->close();
            throw new ProtocolException('events: expected text/event-stream, got ' . $resp->mediaType());
        }
        return new EventStream($resp, $timeout);
    }

    // -- files -------------------------------------------------------------------

    /**
     * Stream local files into the session's /home/work (subdirectories are
     * made). $files maps the name under /home/work to the local path, or
     * lists local paths (uploaded under their base name) or
     * [name, localPath] pairs (for names PHP would turn into integer keys,
     * such as "2024"). At most
     * MAX_UPLOAD_FILES go in one request. $progress(sent, total) is called
     * as bytes go out.
     *
     * @param array<int|string, string|array{string, string}> $files
     */
    public function upload(string $name, array $files, ?callable $progress = null): void
    {
        $items = [];
        foreach ($files as $remote => $local) {
            if (is_array($local)) {
                [$remote, $local] = $local;
            }
            clearstatcache(true, $local);
            if (!is_file($local)) {
                throw new \InvalidArgumentException("upload $local: not a regular file");
            }
            $items[] = ['name' => is_int($remote) ? basename($local) : $remote, 'path' => $local, 'size' => (int) filesize($local)];
        }
        $total = array_sum(array_column($items, 'size'));
        $sent = 0;
        $count = static function (int $n) use (&$sent, $total, $progress): void {
            $sent += $n;
            if ($progress !== null) {
                $progress($sent, $total);
            }
        };
        foreach (array_chunk($items, self::MAX_UPLOAD_FILES) as $batch) {
            $form = new FormData($batch);
            $resp = $this->open('POST', self::sessionPath($name, 'upload'), [],
                static fn (callable $write) => $form->writeTo($write, $count), $form->length(), $form->contentType());
            $resp->close();
        }
    }

    /**
     * Stream one file of the session's /home/work into $dest (a local path,
     * or a writable stream resource) and return the bytes written. A partly
     * written local file is removed when the transfer fails.
     *
     * @param string|resource $dest
     */
    public function downloadSingle(string $name, string $file, mixed $dest): int
    {
        $resp = $this->open('GET', self::sessionPath($name, 'download_single'), ['file' => $file], '', null, 'text/plain', 'application/octet-stream');
        try {
            if (is_resource($dest)) {
                return self::copy($resp, $dest);
            }
            $out = @fopen($dest, 'wb');
            if ($out === false) {
                throw new \RuntimeException("download: cannot write $dest");
            }
            try {
                $n = self::copy($resp, $out);
                fclose($out);
                return $n;
            } catch (\Throwable $e) {
                fclose($out);
                @unlink($dest);
                throw $e;
            }
        } finally {
            $resp->close();
        }
    }

    /** @param resource $out */
    private static function copy(Response $resp, $out): int
    {
        $n = 0;
        while (($chunk = $resp->read()) !== '') {
            if (fwrite($out, $chunk) !== strlen($chunk)) {
                throw new \RuntimeException('download: write failed');
            }
            $n += strlen($chunk);
        }
        return $n;
    }

    /**
     * Fetch paths (files or directories) of the session's /home/work and
     * unpack them into $dest (made when missing); answers the local files
     * written. Nothing is written outside $dest.
     *
     * @param list<string> $files
     * @return list<string>
     */
    public function download(string $name, array $files, string $dest): array
    {
        if (!is_dir($dest) && !@mkdir($dest, 0o755, true) && !is_dir($dest)) {
            throw new \RuntimeException("download: cannot make $dest");
        }
        $resp = $this->open('GET', self::sessionPath($name, 'download'), ['files' => array_values($files)], '', null, 'text/plain', 'multipart/mixed');
        try {
            if (!str_starts_with($resp->mediaType(), 'multipart/')) {
                throw new ProtocolException('download: unexpected answer type ' . $resp->header('content-type'));
            }
            $written = [];
            foreach ((new MultipartReader($resp, $resp->contentTypeParam('boundary')))->parts() as $part) {
                array_push($written, ...Tar::extract($part['read'], $dest));
            }
            return $written;
        } finally {
            $resp->close();
        }
    }

    /** A directory listing of the session's /home/work: ["abspath", "files" => [[filename, size, mode, mtime, type]...]]. */
    public function listFiles(string $name, string $path = ''): array
    {
        $raw = $this->call('GET', self::sessionPath($name, 'files'), ['path' => $path]) ?? [];
        $files = $raw['files'] ?? '[]';
        $entries = is_string($files) ? json_decode($files, true) : $files;
        if (!is_array($entries)) {
            throw new ProtocolException('list files: the files field is not JSON: ' . substr((string) $files, 0, 200));
        }
        return ['abspath' => $raw['abspath'] ?? '', 'files' => $entries, 'errors' => $raw['errors'] ?? ''];
    }
}
