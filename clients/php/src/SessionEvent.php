<?php

declare(strict_types=1);

namespace Bai\Client;

/**
 * One lifecycle event of GET /events/session: $event is its name
 * (session_started, ...), $data the decoded payload (sessionId,
 * sessionName, ownerAccessKey, status, reason, result).
 */
final class SessionEvent
{
    /** @param array<string, mixed> $data */
    public function __construct(public readonly string $event, public readonly array $data, public readonly string $id = '')
    {
    }

    public function sessionName(): string
    {
        return (string) ($this->data['sessionName'] ?? '');
    }

    public function sessionId(): string
    {
        return (string) ($this->data['sessionId'] ?? '');
    }
}
