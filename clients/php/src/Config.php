<?php

declare(strict_types=1);

namespace Bai\Client;

use Bai\Client\Exception\ConfigException;

/**
 * Where the manager is and which keypair signs the requests. $timeout is
 * the socket timeout in seconds of each connect and read, not of a whole
 * call: execute answers come at least every 2 s, but a create waits up to
 * maxWaitSeconds for the session to start.
 */
final class Config
{
    public const DEFAULT_ENDPOINT = 'http://127.0.0.1:8081';
    public const ENV_ENDPOINT = 'BACKEND_ENDPOINT';
    public const ENV_ACCESS_KEY = 'BACKEND_ACCESS_KEY';
    public const ENV_SECRET_KEY = 'BACKEND_SECRET_KEY';

    public function __construct(
        public string $endpoint = self::DEFAULT_ENDPOINT,
        public string $accessKey = '',
        #[\SensitiveParameter] public string $secretKey = '',
        public string $apiVersion = Signer::NEWEST_VERSION,
        public string $userAgent = 'bai-php-client',
        public float $timeout = 300.0,
    ) {
    }

    /**
     * Read BACKEND_ENDPOINT (default DEFAULT_ENDPOINT), BACKEND_ACCESS_KEY and
     * BACKEND_SECRET_KEY from $env (getenv() when null); non-null $overrides
     * (property => value) win.
     *
     * @param array<string, string>|null $env
     * @param array<string, mixed> $overrides
     */
    public static function fromEnv(?array $env = null, array $overrides = []): self
    {
        $get = static fn (string $k): string => trim((string) ($env === null ? getenv($k) : ($env[$k] ?? '')));
        $cfg = new self(
            $get(self::ENV_ENDPOINT) !== '' ? $get(self::ENV_ENDPOINT) : self::DEFAULT_ENDPOINT,
            $get(self::ENV_ACCESS_KEY),
            $get(self::ENV_SECRET_KEY),
        );
        foreach ($overrides as $k => $v) {
            if ($v !== null) {
                if (!property_exists($cfg, $k)) {
                    throw new ConfigException("unknown configuration setting \"$k\"");
                }
                $cfg->$k = $v;
            }
        }
        $cfg->validate();
        return $cfg;
    }

    /** Throw a ConfigException saying what to set when the configuration is unusable. */
    public function validate(): void
    {
        if ($this->accessKey === '' || $this->secretKey === '') {
            throw new ConfigException(sprintf('set %s and %s (printed by `bai dev`), or pass accessKey and secretKey', self::ENV_ACCESS_KEY, self::ENV_SECRET_KEY));
        }
        $u = parse_url($this->endpoint);
        if ($u === false || !in_array($u['scheme'] ?? '', ['http', 'https'], true) || ($u['host'] ?? '') === '') {
            throw new ConfigException(sprintf('endpoint "%s" must look like http://host:port (set %s)', $this->endpoint, self::ENV_ENDPOINT));
        }
        try {
            [$major] = Signer::parseVersion($this->apiVersion);
        } catch (\InvalidArgumentException $e) {
            throw new ConfigException($e->getMessage());
        }
        if ($major < 5) {
            // v4 and older address sessions under /kernel; this client speaks /session.
            throw new ConfigException("api version {$this->apiVersion}: the client speaks v5 and newer");
        }
    }

    /** Keep the secret key out of var_dump() and print_r(). */
    public function __debugInfo(): array
    {
        return ['endpoint' => $this->endpoint, 'accessKey' => $this->accessKey, 'secretKey' => '(hidden)',
            'apiVersion' => $this->apiVersion, 'userAgent' => $this->userAgent, 'timeout' => $this->timeout];
    }
}
