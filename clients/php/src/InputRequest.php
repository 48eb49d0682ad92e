<?php

declare(strict_types=1);

namespace Bai\Client;

/** A waiting-input answer: the program reads stdin; $isPassword asks to hide what the user types. */
final class InputRequest
{
    /** @param array<string, mixed> $options */
    public function __construct(public readonly bool $isPassword = false, public readonly array $options = [])
    {
    }
}
