/**
 * Maps keyed by user input (property names, metadefs names, policy targets).
 * A plain `{}` inherits from Object.prototype: `constructor` or `toString`
 * would look present before they are set, and `__proto__` would not be a key
 * at all. These maps have no prototype, so every key is just a key.
 */
export type Dict<T> = Record<string, T>;

export function dict<T>(entries?: Iterable<readonly [string, T]>): Dict<T> {
  const out = Object.create(null) as Dict<T>;
  if (entries) for (const [key, value] of entries) out[key] = value;
  return out;
}

/** Whether the map holds the key itself (never through a prototype). */
export function hasKey(map: object, key: string): boolean {
  return Object.hasOwn(map, key);
}
