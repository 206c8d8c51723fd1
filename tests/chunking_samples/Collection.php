<?php

declare(strict_types=1);

namespace Illuminate\Support;

use Closure;
use InvalidArgumentException;

/**
 * Can be turned into an array.
 */
interface Arrayable
{
    public function toArray(): array;
}

trait Macroable
{
    protected static array $macros = [];

    public static function macro(string $name, Closure $macro): void
    {
        static::$macros[$name] = $macro;
    }
}

enum Status: string
{
    case Active = 'active';
    case Archived = 'archived';

    public function label(): string
    {
        return ucfirst($this->value);
    }
}

/**
 * A fluent wrapper around arrays.
 */
final class Collection implements Arrayable
{
    use Macroable;

    public function __construct(protected array $items = [])
    {
    }

    /**
     * Run a map over each of the items.
     */
    public function map(callable $callback): static
    {
        $keys = array_keys($this->items);
        $items = array_map($callback, $this->items, $keys);

        return new static(array_combine($keys, $items));
    }

    #[\Override]
    public function toArray(): array
    {
        return array_map(fn ($value) => $value instanceof Arrayable ? $value->toArray() : $value, $this->items);
    }

    abstract protected function guard(): void;
}

function collect(array $items = []): Collection
{
    if ($items === null) {
        throw new InvalidArgumentException('items');
    }
    return new Collection($items);
}
