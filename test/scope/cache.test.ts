import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.js';
import { createScopedCache, purgeSiteKeys, ScopeRequiredError, withScope, type SiteContext } from '../../src/lib/scope/index.js';
import { connect, deleteByPrefix, redisUnavailableReason, skipNotice, testNamespace } from './support/redis.js';

const unavailable = await redisUnavailableReason();
skipNotice('test/scope/cache.test.ts', unavailable);

const site = (id: number): SiteContext => ({ siteId: id, schemaName: `site_s${id}` });

describe.skipIf(unavailable !== null)('scoped cache and key purge against Redis', () => {
  /** Every key of this file lives under `<ns>:`; `app` adds it itself, `raw` sees full names. */
  const ns = testNamespace();
  let raw: Redis;
  let app: Redis;

  beforeAll(() => {
    raw = connect();
    app = connect({ keyPrefix: `${ns}:` });
  });

  afterAll(async () => {
    if (!raw) return;
    await deleteByPrefix(raw, `${ns}:`);
    raw.disconnect();
    app.disconnect();
  });

  it('keeps two sites’ entries for the same key apart', async () => {
    const cache = createScopedCache(app);
    await withScope(site(1), () => cache.set('greeting', { text: 'one' }));
    await withScope(site(2), () => cache.set('greeting', { text: 'two' }));
    await cache.set('greeting', 'unscoped');

    expect(await withScope(site(1), () => cache.get('greeting'))).toEqual({ text: 'one' });
    expect(await withScope(site(2), () => cache.get('greeting'))).toEqual({ text: 'two' });
    expect(await cache.get('greeting')).toBe('unscoped');
    expect(await raw.get(`${ns}:site:1:greeting`)).toBe('{"text":"one"}');
    expect(await raw.get(`${ns}:site:2:greeting`)).toBe('{"text":"two"}');
    expect(await raw.get(`${ns}:greeting`)).toBe('"unscoped"');
    expect(withScope(site(3), () => cache.key('greeting'))).toBe('site:3:greeting');

    expect(await withScope(site(2), () => cache.del('greeting', 'absent'))).toBe(1);
    expect(await withScope(site(2), () => cache.get('greeting'))).toBeUndefined();
    expect(await withScope(site(1), () => cache.get('greeting'))).toEqual({ text: 'one' });
  });

  it('wrap produces once per site, shares concurrent misses and sets the TTL', async () => {
    const cache = createScopedCache(app);
    let calls = 0;
    const producer = async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { calls };
    };
    const first = await withScope(site(1), () => Promise.all(Array.from({ length: 5 }, () => cache.wrap('expensive', 60, producer))));
    expect(first).toEqual(Array(5).fill({ calls: 1 }));
    expect(await withScope(site(1), () => cache.wrap('expensive', 60, producer))).toEqual({ calls: 1 });
    expect(await withScope(site(2), () => cache.wrap('expensive', 60, producer))).toEqual({ calls: 2 });
    expect(calls).toBe(2);

    const ttl = await raw.pttl(`${ns}:site:1:expensive`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('caches null as a value and reports a producer failure without caching it', async () => {
    const cache = createScopedCache(app);
    await withScope(site(4), async () => {
      expect(await cache.wrap('nothing', 30, () => null)).toBeNull();
      expect(await cache.wrap('nothing', 30, () => 'not called')).toBeNull();
      await expect(
        cache.wrap('fails', 30, () => {
          throw new Error('producer broke');
        }),
      ).rejects.toThrow('producer broke');
      expect(await cache.wrap('fails', 30, () => 'recovered')).toBe('recovered');
      await expect(cache.set('u', undefined)).rejects.toThrow(ValidationError);
      await expect(cache.wrap('t', 0, () => 1)).rejects.toThrow(ValidationError);
    });
  });

  it('fails closed outside a scope when asked to', async () => {
    const cache = createScopedCache(app, { requireScope: true, defaultTtlSeconds: 30 });
    await expect(cache.get('x')).rejects.toThrow(ScopeRequiredError);
    await withScope(site(5), () => cache.set('x', 1));
    expect(await raw.pttl(`${ns}:site:5:x`)).toBeGreaterThan(0);
  });

  it('purges exactly one site among 100,000 keys spread over 20 sites', async () => {
    const prefix = `${ns}:bulk:`;
    const SITES = 20;
    const PER_SITE = 5_000;
    let pipeline = raw.pipeline();
    for (let s = 1; s <= SITES; s++) {
      for (let i = 0; i < PER_SITE; i++) {
        pipeline.set(`${prefix}site:${s}:k${i}`, 'v');
        if (pipeline.length >= 10_000) {
          await pipeline.exec();
          pipeline = raw.pipeline();
        }
      }
    }
    // Keys that look close to site 1's prefix but belong to no site or to another one.
    for (const key of ['site:1', 'site:1x:a', 'site:12', 'other:site:1:a', 'site:*:a']) pipeline.set(prefix + key, 'v');
    await pipeline.exec();

    const removed = await purgeSiteKeys(raw, 1, { keyPrefix: prefix, batchSize: 500 });
    expect(removed).toBe(PER_SITE);

    const perSite = new Map<string, number>();
    const others: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
      cursor = next;
      for (const key of keys) {
        const match = /^site:(\d+):k\d+$/.exec(key.slice(prefix.length));
        if (match) perSite.set(match[1]!, (perSite.get(match[1]!) ?? 0) + 1);
        else others.push(key.slice(prefix.length));
      }
    } while (cursor !== '0');

    expect(perSite.has('1')).toBe(false);
    expect(perSite.size).toBe(SITES - 1);
    for (const [siteId, count] of perSite) expect({ siteId, count }).toEqual({ siteId, count: PER_SITE });
    expect(others.sort()).toEqual(['other:site:1:a', 'site:*:a', 'site:1', 'site:12', 'site:1x:a']);
  });

  it('honours the client’s own keyPrefix when purging', async () => {
    const cache = createScopedCache(app);
    await withScope(site(6), () => Promise.all([cache.set('a', 1), cache.set('b', 2)]));
    await withScope(site(60), () => cache.set('a', 1));
    expect(await purgeSiteKeys(app, 6)).toBe(2);
    expect(await raw.exists(`${ns}:site:6:a`, `${ns}:site:6:b`, `${ns}:site:60:a`)).toBe(1);
    expect(await purgeSiteKeys(app, 6)).toBe(0);
    await expect(purgeSiteKeys(app, 6, { keyPrefix: 'elsewhere:' })).rejects.toThrow(ValidationError);
    await expect(purgeSiteKeys(app, 'a*', {})).rejects.toThrow(ValidationError);
  });
});
