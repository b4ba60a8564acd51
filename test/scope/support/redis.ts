import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

export const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * Why Redis-backed tests cannot run here, or null when a real connection and PING succeed.
 * Computed once per test file by actually connecting, so a configured-but-down Redis is
 * reported rather than silently skipped.
 */
export async function redisUnavailableReason(): Promise<string | null> {
  const probe = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return null;
  } catch (error) {
    return `no Redis reachable at ${redisUrl} (${(error as Error).message}); set REDIS_URL to run these tests`;
  } finally {
    probe.disconnect();
  }
}

export function skipNotice(file: string, reason: string | null): void {
  if (reason) console.warn(`[${file}] skipping Redis tests: ${reason}`);
}

/** A random name so tests never touch keys or queues they did not create. */
export function testNamespace(): string {
  return `indigo-test-${randomBytes(5).toString('hex')}`;
}

export function connect(options: RedisOptions = {}): Redis {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: null, ...options });
  client.on('error', () => {});
  return client;
}

/** Deletes every key that starts with `prefix` (test cleanup; SCAN, never KEYS). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  const escaped = prefix.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escaped}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Counts keys that start with `prefix`. */
export async function countByPrefix(redis: Redis, prefix: string): Promise<number> {
  const escaped = prefix.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
  let cursor = '0';
  let total = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escaped}*`, 'COUNT', 1000);
    cursor = next;
    total += keys.length;
  } while (cursor !== '0');
  return total;
}
