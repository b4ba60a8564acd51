import type { Redis } from 'ioredis';
import { ValidationError } from '../errors.js';
import { getScopedKey, requireScope } from './context.js';

export interface ScopedCacheOptions {
  /**
   * Refuse (ScopeRequiredError) to touch the cache outside `withScope`. Off by default so a
   * single-site install uses plain keys; turn it on in multi-site apps to fail closed.
   */
  requireScope?: boolean;
  /** TTL for `set` calls that pass none; without it such entries do not expire. */
  defaultTtlSeconds?: number;
}

/**
 * A JSON cache over Redis whose keys are always `getScopedKey(key)`: `site:<siteId>:<key>` in
 * a scope, `key` outside. Callers never build site keys themselves, so two sites cannot share
 * an entry by accident.
 */
export interface ScopedCache {
  /** The Redis key (before any ioredis `keyPrefix`) that `key` maps to in the current scope. */
  key(key: string): string;
  /** The cached value, or undefined on a miss (a cached `null` is returned as null). */
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  /** Deletes the entries; resolves to how many existed. */
  del(...keys: string[]): Promise<number>;
  /**
   * The cached value, or `producer()`'s result stored for `ttlSeconds`. Concurrent misses for
   * one key in this process share one producer call.
   */
  wrap<T>(key: string, ttlSeconds: number, producer: () => T | Promise<T>): Promise<T>;
}

function assertTtl(ttlSeconds: number, what: string): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new ValidationError(`${what} must be a positive number of seconds, got ${ttlSeconds}`);
  }
  // PX takes whole milliseconds; a sub-millisecond TTL would round to 0, which Redis rejects.
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

export function createScopedCache(redis: Redis, options: ScopedCacheOptions = {}): ScopedCache {
  const defaultTtlMs =
    options.defaultTtlSeconds === undefined ? undefined : assertTtl(options.defaultTtlSeconds, 'defaultTtlSeconds');
  const inFlight = new Map<string, Promise<unknown>>();

  function key(k: string): string {
    if (typeof k !== 'string' || k.length === 0) throw new ValidationError('cache key must be a non-empty string');
    if (options.requireScope) requireScope('the scoped cache');
    return getScopedKey(k);
  }

  async function get<T>(k: string): Promise<T | undefined> {
    const raw = await redis.get(key(k));
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async function set(k: string, value: unknown, ttlSeconds?: number): Promise<void> {
    const fullKey = key(k);
    if (value === undefined) throw new ValidationError('cannot cache undefined (it reads back as a miss)');
    const payload = JSON.stringify(value);
    const ttlMs = ttlSeconds === undefined ? defaultTtlMs : assertTtl(ttlSeconds, 'ttlSeconds');
    if (ttlMs === undefined) await redis.set(fullKey, payload);
    else await redis.set(fullKey, payload, 'PX', ttlMs);
  }

  async function del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return redis.del(...keys.map(key));
  }

  async function wrap<T>(k: string, ttlSeconds: number, producer: () => T | Promise<T>): Promise<T> {
    const fullKey = key(k);
    const ttlMs = assertTtl(ttlSeconds, 'ttlSeconds');
    const raw = await redis.get(fullKey);
    if (raw !== null) return JSON.parse(raw) as T;
    const pending = inFlight.get(fullKey);
    if (pending) return pending as Promise<T>;
    const produced = (async () => {
      const value = await producer();
      if (value !== undefined) await redis.set(fullKey, JSON.stringify(value), 'PX', ttlMs);
      return value;
    })();
    inFlight.set(fullKey, produced);
    // Cleared after registration: a producer that throws synchronously settles immediately.
    const clear = () => {
      if (inFlight.get(fullKey) === produced) inFlight.delete(fullKey);
    };
    produced.then(clear, clear);
    return produced;
  }

  return { key, get, set, del, wrap };
}
