import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, ValidationError } from '../../src/lib/errors.js';
import {
  JOB_SITE_KEY,
  addScopedJob,
  createScopedWorker,
  getScope,
  getScopedKey,
  getScopedQueueName,
  purgeSiteQueues,
  purgeSiteRedis,
  readJobSite,
  ScopeRequiredError,
  stampJobData,
  withScope,
  type LoadedSite,
} from '../../src/lib/scope/index.js';
import { connect, countByPrefix, deleteByPrefix, redisUnavailableReason, redisUrl, skipNotice, testNamespace } from './support/redis.js';

const unavailable = await redisUnavailableReason();
skipNotice('test/scope/jobs.test.ts', unavailable);

const SITES: LoadedSite[] = [
  { siteId: 1, slug: 'acme', schemaName: 'site_acme', status: 'active' },
  { siteId: 2, slug: 'beta', schemaName: 'site_beta', status: 'suspended' },
  { siteId: 3, slug: 'gone', schemaName: 'site_gone', status: 'active', deletedAt: new Date() },
  { siteId: 5, slug: 'five', schemaName: 'site_five', status: 'active' },
];
const byId = new Map(SITES.map((s) => [String(s.siteId), s]));
const siteCtx = (id: number) => byId.get(String(id)) ?? { siteId: id, schemaName: `site_s${id}`, status: 'active' };

describe('stamping job data', () => {
  it('needs a scope and stamps its site id', () => {
    expect(() => stampJobData({ a: 1 })).toThrow(ScopeRequiredError);
    const data = withScope(siteCtx(1), () => stampJobData({ a: 1 }));
    expect(data).toEqual({ a: 1, [JOB_SITE_KEY]: { siteId: '1' } });
    expect(readJobSite(data)).toBe('1');
    expect(readJobSite({ a: 1 })).toBeNull();
    expect(readJobSite({ [JOB_SITE_KEY]: { siteId: 'x:y' } })).toBeNull();
  });

  it('refuses data that is not a plain object or stamped for another site', () => {
    withScope(siteCtx(1), () => {
      expect(() => stampJobData([1, 2])).toThrow(ValidationError);
      expect(() => stampJobData(new Date())).toThrow(ValidationError);
      expect(stampJobData(stampJobData({ a: 1 }))).toEqual({ a: 1, [JOB_SITE_KEY]: { siteId: '1' } });
      const foreign = withScope(siteCtx(5), () => stampJobData({ a: 1 }));
      expect(() => stampJobData(foreign)).toThrow(ValidationError);
    });
  });
});

describe('purgeSiteRedis without Redis configured', () => {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
  });
  afterAll(() => {
    if (saved !== undefined) process.env.REDIS_URL = saved;
  });

  it('skips with a reason when REDIS_URL is unset', async () => {
    const result = await purgeSiteRedis({ siteId: 1 });
    expect(result).toEqual({ skipped: true, reason: expect.stringContaining('REDIS_URL is not set') });
  });

  it('reports an unreachable configured Redis as a ConnectionError, without the password', async () => {
    const error = await purgeSiteRedis({ siteId: 1, redisUrl: 'redis://:s3cret@127.0.0.1:1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

type Outcome = { state: 'completed'; result: unknown } | { state: 'failed'; reason: string };

describe.skipIf(unavailable !== null)('BullMQ helpers against Redis', () => {
  /** BullMQ prefix for every queue in this file, so nothing else in Redis is touched. */
  const prefix = testNamespace();
  let connection: Redis;
  const queues: Queue[] = [];
  const workers: Worker[] = [];
  /**
   * First outcome per `<queue>/<job id>` (ids restart in every queue); a refusal can be
   * reported before `add()` has even returned.
   */
  const outcomes = new Map<string, Outcome>();
  const waiting = new Map<string, (outcome: Outcome) => void>();
  const report = (id: string, outcome: Outcome) => {
    if (outcomes.has(id)) return;
    outcomes.set(id, outcome);
    waiting.get(id)?.(outcome);
  };
  let processed = 0;
  let loads = 0;

  const loadSite = async (siteId: string) => {
    loads += 1;
    return byId.get(siteId) ?? null;
  };

  function queue(name: string): Queue {
    const q = new Queue(name, { connection, prefix });
    queues.push(q);
    return q;
  }

  /** A scoped worker on `name` that reports each job's outcome and what scope it ran in. */
  function worker(name: string): Worker {
    const w = createScopedWorker(
      name,
      async (job) => {
        processed += 1;
        const before = getScope();
        await sleep(5);
        return { scope: before, key: getScopedKey('k'), queueForSite: getScopedQueueName('mail'), data: job.data };
      },
      { connection, prefix, loadSite },
    );
    w.on('completed', (job, result) => report(`${job.queueName}/${job.id}`, { state: 'completed', result }));
    w.on('failed', (job, error) => job && report(`${job.queueName}/${job.id}`, { state: 'failed', reason: error.message }));
    workers.push(w);
    return w;
  }

  /** Adds a job and waits for its first outcome. */
  async function run(add: () => Promise<{ id?: string; queueName: string }>): Promise<Outcome & { id: string }> {
    const job = await add();
    const key = `${job.queueName}/${job.id}`;
    const outcome = outcomes.get(key) ?? (await new Promise<Outcome>((resolve) => waiting.set(key, resolve)));
    return { ...outcome, id: job.id! };
  }

  beforeAll(() => {
    connection = connect();
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
  });

  afterAll(async () => {
    await Promise.all(queues.map((q) => q.close()));
    if (connection) {
      await deleteByPrefix(connection, `${prefix}:`);
      connection.disconnect();
    }
  });

  it('runs a job in the scope of the site that enqueued it', async () => {
    const q = queue('roundtrip');
    worker('roundtrip');
    const first = await run(() => withScope(siteCtx(1), () => addScopedJob(q, 'hello', { n: 1 })));
    const second = await run(() => withScope(siteCtx(5), () => addScopedJob(q, 'hello', { n: 2 })));

    expect(first).toMatchObject({
      state: 'completed',
      result: {
        scope: { siteId: '1', slug: 'acme', schemaName: 'site_acme', status: 'active' },
        key: 'site:1:k',
        queueForSite: 'site.1.mail',
        data: { n: 1, [JOB_SITE_KEY]: { siteId: '1' } },
      },
    });
    expect(second).toMatchObject({ state: 'completed', result: { key: 'site:5:k', data: { n: 2 } } });
  });

  it('refuses unstamped jobs and jobs of suspended, deleted or missing sites, without retrying them', async () => {
    const q = queue('refusals');
    worker('refusals');
    processed = 0;
    loads = 0;
    const opts = { attempts: 3, backoff: { type: 'fixed', delay: 10 } };

    const unstamped = await run(() => q.add('raw', { n: 1 }, opts));
    const suspended = await run(() => withScope(siteCtx(2), () => addScopedJob(q, 'x', {}, opts)));
    const deleted = await run(() => withScope(siteCtx(3), () => addScopedJob(q, 'x', {}, opts)));
    const missing = await run(() => withScope(siteCtx(4), () => addScopedJob(q, 'x', {}, opts)));

    expect(unstamped).toMatchObject({ state: 'failed', reason: expect.stringMatching(/carries no site/) });
    expect(suspended).toMatchObject({ state: 'failed', reason: expect.stringMatching(/site 2 \(beta\) is suspended/) });
    expect(deleted).toMatchObject({ state: 'failed', reason: expect.stringMatching(/site 3 \(gone\) is deleted/) });
    expect(missing).toMatchObject({ state: 'failed', reason: expect.stringMatching(/site 4 no longer exists/) });
    expect(processed).toBe(0);
    expect(loads).toBe(3);
    for (const { id } of [unstamped, suspended, deleted, missing]) {
      expect(await q.getJobState(id)).toBe('failed');
      expect((await q.getJob(id))?.attemptsMade).toBe(1);
    }
  });

  it('refuses a job stamped for one site in another site’s queue', async () => {
    const name = withScope(siteCtx(1), () => getScopedQueueName('mail'));
    const q = queue(name);
    worker(name);
    const own = await run(() => withScope(siteCtx(1), () => addScopedJob(q, 'ok', {})));
    const foreign = await run(() => withScope(siteCtx(5), () => addScopedJob(q, 'sneaky', {})));
    expect(own.state).toBe('completed');
    expect(foreign).toMatchObject({ state: 'failed', reason: expect.stringMatching(/stamped for site 5 but sits in site 1's queue/) });
  });

  it('obliterates only the target site’s queues and reports their job counts', async () => {
    const fill = async (name: string, jobs: number, delay = 0) => {
      const q = queue(name);
      for (let i = 0; i < jobs; i++) await q.add('j', { i }, delay ? { delay } : {});
    };
    await fill('site.7.mail', 3);
    await fill('site.7.thumbs', 2, 60_000);
    await fill('site.70.mail', 4);
    await fill('mail', 1);

    const result = await purgeSiteQueues({ connection, siteId: 7, prefix, queueNames: ['never-used'] });
    expect(result).toEqual({
      queues: [
        { queue: 'site.7.mail', jobs: 3 },
        { queue: 'site.7.never-used', jobs: 0 },
        { queue: 'site.7.thumbs', jobs: 2 },
      ],
      jobs: 5,
    });
    expect(await countByPrefix(connection, `${prefix}:site.7.`)).toBe(0);
    const survivor = queue('site.70.mail');
    expect(await survivor.count()).toBe(4);
    expect(await queue('mail').count()).toBe(1);
  });

  it('purgeSiteRedis removes a site’s keys and queues through a URL', async () => {
    const keyPrefix = `${prefix}:cache:`;
    await connection.set(`${keyPrefix}site:8:a`, '1');
    await connection.set(`${keyPrefix}site:80:a`, '1');
    await queue('site.8.mail').add('j', {});

    const result = await purgeSiteRedis({ redisUrl, siteId: 8, keyPrefix, queuePrefix: prefix });
    expect(result).toEqual({ skipped: false, keys: 1, queues: [{ queue: 'site.8.mail', jobs: 1 }], jobs: 1 });
    expect(await connection.exists(`${keyPrefix}site:8:a`, `${keyPrefix}site:80:a`)).toBe(1);
  });
});
