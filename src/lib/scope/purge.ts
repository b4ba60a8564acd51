import type { Redis } from 'ioredis';
import { ConnectionError, ValidationError } from '../errors.js';
import {
  escapeRedisGlob,
  normalizeSiteId,
  parseScopedQueueName,
  scopedQueueNameFor,
  siteKeyPrefix,
  siteQueuePrefix,
  type SiteIdInput,
} from './names.js';

/**
 * Removing everything a site left in Redis: its keys (`site:<id>:*`) and its BullMQ queues
 * (`site.<id>.<name>`). Keys are found with SCAN and removed with UNLINK in batches: KEYS would
 * block Redis for every other site while it walks the whole keyspace, and DEL would free large
 * values on Redis's main thread.
 */

const DEFAULT_BATCH_SIZE = 1000;

function assertBatchSize(batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new ValidationError(`batchSize must be an integer between 1 and 100000, got ${batchSize}`);
  }
  return batchSize;
}

export interface PurgeSiteKeysOptions {
  /** SCAN COUNT hint and the most keys sent in one UNLINK. Default 1000. */
  batchSize?: number;
  /**
   * The key prefix the application's own ioredis client adds (its `keyPrefix` option), when
   * `redis` here is a different client without it. Defaults to `redis`'s own `keyPrefix`.
   */
  keyPrefix?: string;
}

/** Calls `onKey` for every key matching `pattern`, one SCAN page at a time. */
async function scanKeys(redis: Redis, pattern: string, count: number, onPage: (keys: string[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    if (keys.length > 0) await onPage(keys);
  } while (cursor !== '0');
}

/**
 * Deletes every key of one site (`site:<siteId>:*`, after any ioredis `keyPrefix`) and returns
 * how many were deleted. Other sites' keys are untouched: the match includes the `:` after the
 * id, so site 1 never matches site 10's keys.
 */
export async function purgeSiteKeys(redis: Redis, siteId: SiteIdInput, options: PurgeSiteKeysOptions = {}): Promise<number> {
  const batchSize = assertBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const clientPrefix = redis.options.keyPrefix ?? '';
  const scanPrefix = options.keyPrefix ?? clientPrefix;
  // ioredis prepends its keyPrefix to UNLINK's arguments but not to SCAN's MATCH, so we scan the
  // full names and strip the client's own prefix before deleting.
  if (!scanPrefix.startsWith(clientPrefix)) {
    throw new ValidationError(`keyPrefix ${JSON.stringify(scanPrefix)} must start with the client's keyPrefix ${JSON.stringify(clientPrefix)}`);
  }
  const pattern = `${escapeRedisGlob(scanPrefix + siteKeyPrefix(siteId))}*`;
  let removed = 0;
  await scanKeys(redis, pattern, batchSize, async (keys) => {
    const bare = clientPrefix ? keys.map((k) => k.slice(clientPrefix.length)) : keys;
    for (let i = 0; i < bare.length; i += batchSize) {
      removed += await redis.unlink(...bare.slice(i, i + batchSize));
    }
  });
  return removed;
}

export interface PurgeSiteQueuesOptions {
  /** An ioredis connection without `keyPrefix` (BullMQ refuses those; it has `prefix`). */
  connection: Redis;
  siteId: SiteIdInput;
  /**
   * Base names (as given to `getScopedQueueName`) of queues to purge even if SCAN finds no key
   * of theirs. Every `site.<id>.*` queue found under `prefix` is purged too.
   */
  queueNames?: string[];
  /** BullMQ's `prefix` option. Default `bull`. */
  prefix?: string;
  batchSize?: number;
}

export interface QueuePurgeResult {
  /** The full BullMQ queue name, `site.<id>.<name>`. */
  queue: string;
  /** Jobs the queue held in any state when it was obliterated. */
  jobs: number;
}

export interface PurgeSiteQueuesResult {
  queues: QueuePurgeResult[];
  jobs: number;
}

/** Every `site.<siteId>.*` queue that has at least one key under `prefix`. */
async function discoverSiteQueues(redis: Redis, prefix: string, siteId: string, batchSize: number): Promise<Set<string>> {
  const keyStart = `${prefix}:`;
  const pattern = `${escapeRedisGlob(keyStart + siteQueuePrefix(siteId))}*`;
  const found = new Set<string>();
  await scanKeys(redis, pattern, batchSize, async (keys) => {
    for (const key of keys) {
      const rest = key.slice(keyStart.length);
      const end = rest.indexOf(':');
      const queue = end === -1 ? rest : rest.slice(0, end);
      if (parseScopedQueueName(queue)?.siteId === siteId) found.add(queue);
    }
  });
  return found;
}

/**
 * Obliterates the site's BullMQ queues (jobs in every state, schedulers, events, metadata) and
 * reports how many jobs each held. Stop the site's workers first: a running worker would
 * recreate bookkeeping keys. Jobs of the site in shared (unscoped) queues are not touched;
 * scoped workers refuse them once the site is gone.
 */
export async function purgeSiteQueues(options: PurgeSiteQueuesOptions): Promise<PurgeSiteQueuesResult> {
  const siteId = normalizeSiteId(options.siteId);
  const prefix = options.prefix ?? 'bull';
  const batchSize = assertBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  if (options.connection.options.keyPrefix) {
    throw new ValidationError('purgeSiteQueues needs a connection without keyPrefix (BullMQ uses its own prefix option)');
  }
  const names = await discoverSiteQueues(options.connection, prefix, siteId, batchSize);
  for (const name of options.queueNames ?? []) names.add(scopedQueueNameFor(siteId, name));

  const queues: QueuePurgeResult[] = [];
  // Loaded here, not at the top: site:delete and site:purge import this module, and BullMQ with
  // ioredis costs every one of their starts ~220 ms whether or not Redis is configured.
  const { Queue } = await import('bullmq');
  for (const name of [...names].sort()) {
    const queue = new Queue(name, { connection: options.connection, prefix });
    try {
      const counts = await queue.getJobCounts();
      const jobs = Object.values(counts).reduce((sum, n) => sum + n, 0);
      await queue.obliterate({ force: true });
      queues.push({ queue: name, jobs });
    } finally {
      await queue.close();
    }
  }
  return { queues, jobs: queues.reduce((sum, q) => sum + q.jobs, 0) };
}

export interface PurgeSiteRedisOptions {
  /** Defaults to the REDIS_URL environment variable. */
  redisUrl?: string;
  siteId: SiteIdInput;
  /** See PurgeSiteQueuesOptions.queueNames. */
  queueNames?: string[];
  /** BullMQ `prefix` of the application's queues. Default `bull`. */
  queuePrefix?: string;
  /** The ioredis `keyPrefix` of the application's cache client, if it uses one. */
  keyPrefix?: string;
  batchSize?: number;
}

export type PurgeSiteRedisResult =
  | { skipped: true; reason: string }
  | { skipped: false; keys: number; queues: QueuePurgeResult[]; jobs: number };

/** The URL with any password replaced, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/**
 * Deletes the site's Redis keys and queues, for hard delete and `site:purge-cache`. Without a
 * Redis URL (option or REDIS_URL) there is nothing to purge: it resolves to
 * `{ skipped: true, reason }` rather than failing, so installs without Redis can still delete
 * sites. An unreachable Redis that *is* configured is a ConnectionError.
 */
export async function purgeSiteRedis(options: PurgeSiteRedisOptions): Promise<PurgeSiteRedisResult> {
  const siteId = normalizeSiteId(options.siteId);
  const url = options.redisUrl || process.env.REDIS_URL;
  if (!url) return { skipped: true, reason: 'REDIS_URL is not set, so there are no Redis keys or queues to purge' };

  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis reports connection failures as 'error' events too; the rejection of connect()
  // below is what we act on.
  redis.on('error', () => {});
  try {
    try {
      await redis.connect();
    } catch (error) {
      throw new ConnectionError(`could not connect to Redis at ${redactUrl(url)}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    const keys = await purgeSiteKeys(redis, siteId, {
      ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
      ...(options.keyPrefix !== undefined && { keyPrefix: options.keyPrefix }),
    });
    const { queues, jobs } = await purgeSiteQueues({
      connection: redis,
      siteId,
      ...(options.queueNames && { queueNames: options.queueNames }),
      ...(options.queuePrefix !== undefined && { prefix: options.queuePrefix }),
      ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
    });
    return { skipped: false, keys, queues, jobs };
  } finally {
    redis.disconnect();
  }
}
