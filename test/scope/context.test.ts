import { EventEmitter, EventEmitterAsyncResource, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/lib/errors.js';
import {
  bindScope,
  configureScope,
  getScope,
  getScopedChannel,
  getScopedKey,
  getScopedQueueName,
  requireScope,
  ScopeNotConfiguredError,
  ScopeRequiredError,
  withoutScope,
  withScope,
  type SiteContext,
} from '../../src/lib/scope/index.js';

const acme: SiteContext = { siteId: 1, schemaName: 'site_acme', slug: 'acme', status: 'active' };
const beta: SiteContext = { siteId: '2', schemaName: 'site_beta', slug: 'beta' };

afterEach(() => configureScope({ resolveSite: null }));

describe('without a scope', () => {
  it('returns null and leaves names unchanged', () => {
    expect(getScope()).toBeNull();
    expect(getScopedKey('foo')).toBe('foo');
    expect(getScopedChannel('x')).toBe('x');
    expect(getScopedQueueName('emails')).toBe('emails');
  });

  it('requireScope fails closed with a typed error', () => {
    expect(() => requireScope()).toThrow(ScopeRequiredError);
    expect(() => requireScope('sending mail')).toThrow(/sending mail must run inside withScope/);
  });
});

describe('withScope', () => {
  it('scopes keys, channels and queue names to the site', () => {
    withScope(acme, () => {
      expect(getScope()).toEqual({ siteId: '1', schemaName: 'site_acme', slug: 'acme', status: 'active' });
      expect(requireScope().siteId).toBe('1');
      expect(getScopedKey('foo')).toBe('site:1:foo');
      expect(getScopedChannel('posts')).toBe('site:1:posts');
      expect(getScopedQueueName('emails')).toBe('site.1.emails');
    });
    expect(getScope()).toBeNull();
  });

  it('returns what fn returns, synchronously for a site context', () => {
    expect(withScope(acme, () => getScopedKey('k'))).toBe('site:1:k');
  });

  it('accepts bigint and string ids and keeps their string form', () => {
    withScope({ siteId: 9007199254740993n, schemaName: 'site_big' }, () => {
      expect(getScope()?.siteId).toBe('9007199254740993');
      expect(getScopedKey('a')).toBe('site:9007199254740993:a');
    });
  });

  it('refuses queue names BullMQ would refuse', () => {
    expect(() => getScopedQueueName('a:b')).toThrow(ValidationError);
    expect(() => withScope(acme, () => getScopedQueueName('a:b'))).toThrow(ValidationError);
  });

  it.each([
    [{ siteId: 1, schemaName: 'public' }],
    [{ siteId: 1, schemaName: 'site_Acme' }],
    [{ siteId: 1, schemaName: 'site_acme"; drop schema public; --' }],
    [{ siteId: 1, schemaName: `site_${'a'.repeat(59)}` }],
    [{ siteId: 'a:b', schemaName: 'site_acme' }],
    [{ siteId: '1*', schemaName: 'site_acme' }],
    [{ siteId: -1, schemaName: 'site_acme' }],
    [{ siteId: 1.5, schemaName: 'site_acme' }],
  ])('rejects a malformed site context %j', (site) => {
    let ran = false;
    expect(() =>
      withScope(site as SiteContext, () => {
        ran = true;
      }),
    ).toThrow(ValidationError);
    expect(ran).toBe(false);
  });

  it('nests: the inner scope wins inside, the outer one is back afterwards', async () => {
    await withScope(acme, async () => {
      await withScope(beta, async () => {
        await sleep(1);
        expect(getScopedKey('k')).toBe('site:2:k');
      });
      expect(getScopedKey('k')).toBe('site:1:k');
      withoutScope(() => expect(getScope()).toBeNull());
      expect(getScope()?.siteId).toBe('1');
    });
  });

  it('survives await, timers, promise chains, Promise.all and setImmediate', async () => {
    const seen = await withScope(acme, async () => {
      const results: string[] = [];
      await Promise.resolve();
      results.push(getScopedKey('await'));
      await sleep(5);
      results.push(getScopedKey('sleep'));
      results.push(await new Promise<string>((resolve) => setTimeout(() => resolve(getScopedKey('setTimeout')), 5)));
      results.push(await new Promise<string>((resolve) => setImmediate(() => resolve(getScopedKey('setImmediate')))));
      results.push(
        await Promise.resolve('chain')
          .then((x) => sleep(1).then(() => x))
          .then((x) => getScopedKey(x)),
      );
      results.push(
        ...(await Promise.all([1, 2, 3].map(async (n) => {
          await sleep(n);
          return getScopedKey(`all${n}`);
        }))),
      );
      return results;
    });
    expect(seen).toEqual([
      'site:1:await',
      'site:1:sleep',
      'site:1:setTimeout',
      'site:1:setImmediate',
      'site:1:chain',
      'site:1:all1',
      'site:1:all2',
      'site:1:all3',
    ]);
  });

  it('keeps concurrent scopes apart', async () => {
    const sites = Array.from({ length: 50 }, (_, i) => ({ siteId: i + 1, schemaName: `site_s${i + 1}` }));
    const results = await Promise.all(
      sites.map((site, i) =>
        withScope(site, async () => {
          const keys: string[] = [];
          for (let step = 0; step < 5; step++) {
            await sleep((i * 7 + step * 3) % 5);
            keys.push(getScopedKey('x'));
          }
          return keys;
        }),
      ),
    );
    results.forEach((keys, i) => expect(new Set(keys)).toEqual(new Set([`site:${i + 1}:x`])));
  });

  it('reaches listeners of an EventEmitter created inside the scope', async () => {
    const seen = await withScope(acme, async () => {
      const emitter = new EventEmitter();
      const got = once(emitter, 'ready').then(() => getScopedKey('listener'));
      setTimeout(() => emitter.emit('ready'), 2);
      return got;
    });
    expect(seen).toBe('site:1:listener');
  });

  it('runs listeners of an EventEmitterAsyncResource in the scope it was created in, whoever emits', () => {
    const emitter = withScope(acme, () => new EventEmitterAsyncResource({ name: 'site-events' }));
    const seen: Array<string | null> = [];
    emitter.on('tick', () => seen.push(getScope()?.siteId ?? null));
    emitter.emit('tick');
    withScope(beta, () => emitter.emit('tick'));
    emitter.emitDestroy();
    expect(seen).toEqual(['1', '1']);
  });

  it('bindScope pins a callback to the scope it was bound in', () => {
    const shared = new EventEmitter();
    const seen: Array<string | null> = [];
    withScope(acme, () => shared.on('m', bindScope(() => seen.push(getScope()?.siteId ?? null))));
    shared.on('m', () => seen.push(getScope()?.siteId ?? null));
    withScope(beta, () => shared.emit('m'));
    shared.emit('m');
    expect(seen).toEqual(['1', '2', '1', null]);
  });
});

describe('withScope with an id or slug', () => {
  const sites = new Map<string, SiteContext>([
    ['acme', acme],
    ['1', acme],
    ['beta', beta],
  ]);

  it('needs a resolver', async () => {
    await expect(withScope('acme', () => 1)).rejects.toThrow(ScopeNotConfiguredError);
  });

  it('resolves through configureScope', async () => {
    configureScope({ resolveSite: async (ref) => sites.get(String(ref)) ?? null });
    await expect(withScope('acme', () => getScopedKey('k'))).resolves.toBe('site:1:k');
    await expect(withScope(1, async () => getScope()?.slug)).resolves.toBe('acme');
    await expect(withScope('nope', () => 1)).rejects.toThrow(NotFoundError);
  });

  it('prefers a resolver passed to the call', async () => {
    configureScope({ resolveSite: () => acme });
    await expect(withScope('beta', () => getScopedKey('k'), { resolveSite: (ref) => sites.get(String(ref)) ?? null })).resolves.toBe(
      'site:2:k',
    );
  });

  it('rejects a resolver result that is not a site', async () => {
    configureScope({ resolveSite: () => ({ siteId: 3, schemaName: 'public' }) });
    await expect(withScope('x', () => 1)).rejects.toThrow(ValidationError);
  });
});
