import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDomain,
  applySiteHeaders,
  createDnsResolver,
  createPool,
  createSite,
  createSiteResolver,
  explainHost,
  extractSiteContext,
  notifySiteChanged,
  resolveHost,
  verifyDomain,
  type IndigoContext,
  type ResolvedSite,
  type SiteResolver,
  type Sql,
} from '../../src/index.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

const BASE = 'sites.example.net';
let net: TestNetwork;
let ctx: IndigoContext;
let dns: TestDnsServer;
const site: Record<string, ResolvedSite> = {};

/** Attaches `domain` to `slug` and marks it verified directly (DNS is tested in verify.test.ts). */
async function verified(slug: string, domain: string): Promise<void> {
  await addDomain(ctx, { site: slug, domain, baseDomain: null });
  await net.sql`update site_domains set verification_state = 'verified', verified_at = now(), token_expires_at = null where domain = ${domain}`;
}

beforeAll(async () => {
  net = await createTestNetwork();
  ctx = net.ctx;
  dns = await startTestDnsServer();
  for (const slug of ['acme', 'beta', 'gone', 'paused']) {
    const created = await createSite(ctx, { slug });
    site[slug] = { siteId: created.site.id, slug, schemaName: created.site.schemaName, status: 'active' };
  }
  await verified('acme', 'acme-shop.example');
  await verified('acme', 'xn--bcher-kva.example');
  await addDomain(ctx, { site: 'beta', domain: 'beta-pending.example', baseDomain: null });
  await verified('gone', 'gone.example');
  await verified('paused', 'paused.example');
  await net.sql`update sites set deleted_at = now(), deleted_by = 'test' where slug = 'gone'`;
  await net.sql`update sites set status = 'suspended' where slug = 'paused'`;
  site.paused = { ...site.paused!, status: 'suspended' };
});
afterAll(async () => {
  await dns?.close();
  await net?.drop();
});

describe('resolveHost', () => {
  const resolve = (host: string | null | undefined, baseDomain: string | null = BASE) => resolveHost(host, { sql: net.pool, baseDomain });

  it('resolves a verified custom domain in any spelling of the Host header', async () => {
    for (const host of ['acme-shop.example', 'ACME-Shop.Example', 'acme-shop.example:8443', 'acme-shop.example.']) {
      expect(await resolve(host)).toEqual(site.acme);
    }
    expect(await resolve('bücher.example')).toEqual(site.acme);
  });

  it('resolves <slug>.<base domain>, and only one label deep', async () => {
    expect(await resolve(`beta.${BASE}`)).toEqual(site.beta);
    expect(await resolve(`BETA.${BASE.toUpperCase()}:443`)).toEqual(site.beta);
    expect(await resolve(`www.beta.${BASE}`)).toBeNull();
    expect(await resolve(BASE)).toBeNull();
    expect(await resolve(`nobody.${BASE}`)).toBeNull();
    expect(await resolve(`beta.${BASE}`, null)).toBeNull();
  });

  it('never resolves unverified domains or soft-deleted sites; suspended sites resolve as suspended', async () => {
    expect(await resolve('beta-pending.example')).toBeNull();
    expect(await resolve('gone.example')).toBeNull();
    expect(await resolve(`gone.${BASE}`)).toBeNull();
    expect(await resolve('paused.example')).toEqual({ ...site.paused, status: 'suspended' });
    expect(await resolve(`paused.${BASE}`)).toMatchObject({ status: 'suspended' });
  });

  it('answers null for garbage without throwing', async () => {
    for (const host of [null, undefined, '', ' ', '127.0.0.1', '[::1]:80', 'a b', "x'; drop table sites; --", 'é'.repeat(300)]) {
      expect(await resolve(host)).toBeNull();
    }
  });

  it('reads INDIGO_BASE_DOMAIN by default', async () => {
    process.env.INDIGO_BASE_DOMAIN = BASE;
    try {
      expect(await resolveHost(`acme.${BASE}`, { sql: net.pool })).toEqual(site.acme);
    } finally {
      delete process.env.INDIGO_BASE_DOMAIN;
    }
  });
});

describe('createSiteResolver', () => {
  let pool: Sql;
  let resolver: SiteResolver;
  beforeAll(async () => {
    pool = createPool(net.url, { max: 2 });
  });
  afterAll(async () => {
    await resolver?.close();
    await pool?.end({ timeout: 5 });
  });

  it('serves repeated lookups from its cache, positive and negative, until told of a change', async () => {
    // Before the resolver listens: the notification of this change must not reach it.
    await verified('beta', 'beta-cache.example');
    resolver = createSiteResolver({ sql: pool, baseDomain: BASE });
    await resolver.ready;
    expect(await resolver.resolve('beta-cache.example')).toEqual(site.beta);
    expect(await resolver.resolve('later.example')).toBeNull();

    // Changed behind the resolver's back (no notification): the cache still answers.
    await net.sql`update site_domains set verification_state = 'pending' where domain = 'beta-cache.example'`;
    await net.sql`insert into site_domains (site_id, domain, token, verification_state) values (${site.beta!.siteId}, 'later.example', 'x', 'verified')`;
    expect(await resolver.resolve('beta-cache.example')).toEqual(site.beta);
    expect(await resolver.resolve('later.example')).toBeNull();

    // A notification (what every site and domain change sends) drops the cache.
    await notifySiteChanged(net.pool, { id: site.beta!.siteId, slug: 'beta' });
    await expect.poll(() => resolver.resolve('beta-cache.example')).toBeNull();
    expect(await resolver.resolve('later.example')).toEqual(site.beta);
  });

  it('answers the raw Host value and its normalised form from one entry; concurrent misses share one lookup', async () => {
    resolver.invalidate();
    const [a, b] = await Promise.all([resolver.resolve('Acme-Shop.example:443'), resolver.resolve('Acme-Shop.example:443')]);
    expect(a).toEqual(site.acme);
    expect(b).toBe(a);
    expect(await resolver.resolve('acme-shop.example')).toBe(a);
    expect(resolver.size).toBe(2);
  });

  it('forgets the least recently used host beyond maxEntries', async () => {
    const small = createSiteResolver({ sql: pool, baseDomain: BASE, maxEntries: 3, listen: false });
    for (const host of ['lru-a.example', 'lru-b.example', 'lru-c.example']) await verified('acme', host);
    for (const host of ['lru-a.example', 'lru-b.example', 'lru-c.example']) expect(await small.resolve(host)).toEqual(site.acme);
    await net.sql`delete from site_domains where domain like 'lru-%'`;
    expect(await small.resolve('lru-a.example')).toEqual(site.acme); // a is now the most recent
    expect(await small.resolve('lru-d.example')).toBeNull(); // evicts b
    expect(small.size).toBe(3);
    expect(await small.resolve('lru-a.example')).toEqual(site.acme);
    expect(await small.resolve('lru-c.example')).toEqual(site.acme);
    expect(await small.resolve('lru-b.example')).toBeNull();
    await small.close();
  });

  it('expires entries after the TTL even without notifications', async () => {
    const short = createSiteResolver({ sql: pool, baseDomain: BASE, ttlMs: 20, listen: false });
    await verified('acme', 'ttl.example');
    expect(await short.resolve('ttl.example')).toEqual(site.acme);
    await net.sql`delete from site_domains where domain = 'ttl.example'`;
    await sleep(40);
    expect(await short.resolve('ttl.example')).toBeNull();
    await short.close();
  });

  it('refuses bad options', () => {
    expect(() => createSiteResolver({ sql: pool, maxEntries: 0, listen: false })).toThrow(/maxEntries/);
    expect(() => createSiteResolver({ sql: pool, ttlMs: -1, listen: false })).toThrow(/TTL/);
    expect(() => createSiteResolver({ sql: pool, baseDomain: 'co.uk', listen: false })).toThrow(/public suffix/);
  });
});

describe('cache invalidation across processes', () => {
  const distIndex = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'index.js');
  let child: ChildProcessWithoutNullStreams;
  let answers: AsyncIterator<string>;
  let challenge: { name: string; value: string };

  /** A separate node process with its own pool, resolver and LISTEN connection; it answers one host per line. */
  beforeAll(async () => {
    if (!existsSync(distIndex)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` before the tests');
    // Added before the child listens: the notification of this change must not reach it.
    ({ record: challenge } = await addDomain(ctx, { site: 'beta', domain: 'cross.example', baseDomain: null }));
    const program = `
      import { createInterface } from 'node:readline';
      const { createPool, createSiteResolver } = await import(${JSON.stringify(pathToFileURL(distIndex).href)});
      const sql = createPool(process.env.DB_URL, { max: 1 });
      const resolver = createSiteResolver({ sql, baseDomain: ${JSON.stringify(BASE)}, ttlMs: 3_600_000 });
      await resolver.ready;
      console.log('ready');
      for await (const host of createInterface({ input: process.stdin })) {
        console.log(JSON.stringify(await resolver.resolve(host)));
      }
      await resolver.close();
      await sql.end();`;
    child = spawn(process.execPath, ['--input-type=module', '-e', program], { env: { ...process.env, DB_URL: net.url }, stdio: 'pipe' });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    expect((await answers.next()).value).toBe('ready');
  });
  afterAll(() => {
    child?.stdin.end();
  });

  async function ask(host: string): Promise<ResolvedSite | null> {
    child.stdin.write(`${host}\n`);
    return JSON.parse((await answers.next()).value as string);
  }

  it('a domain verified in this process resolves in the other within a second', async () => {
    expect(await ask('cross.example')).toBeNull();
    // The child caches for an hour: only a notification can change its answer.
    await net.sql`update site_domains set verification_state = 'verified' where domain = 'cross.example'`;
    expect(await ask('cross.example')).toBeNull();
    await net.sql`update site_domains set verification_state = 'pending' where domain = 'cross.example'`;

    dns.setRecords(challenge.name, [{ type: 'TXT', value: challenge.value }]);
    const report = await verifyDomain(ctx, { domain: 'cross.example', resolver: createDnsResolver({ servers: [dns.serversEnv] }) });
    expect(report.transition).toBe('verified');
    const committedAt = Date.now();
    let answer = await ask('cross.example');
    while (answer === null && Date.now() - committedAt < 1000) answer = await ask('cross.example');
    expect(answer).toEqual(site.beta);
  });

  it('a soft-deleted site stops resolving in the other process within a second', async () => {
    expect(await ask(`acme.${BASE}`)).toEqual(site.acme);
    await net.pool.begin(async (tx) => {
      await tx`update sites set deleted_at = now() where slug = 'acme'`;
      await notifySiteChanged(tx, { id: site.acme!.siteId, slug: 'acme' });
    });
    try {
      const committedAt = Date.now();
      let answer = await ask(`acme.${BASE}`);
      while (answer !== null && Date.now() - committedAt < 1000) answer = await ask(`acme.${BASE}`);
      expect(answer).toBeNull();
      expect(await ask('acme-shop.example')).toBeNull();
    } finally {
      await net.sql`update sites set deleted_at = null where slug = 'acme'`;
      await notifySiteChanged(net.pool, { id: site.acme!.siteId, slug: 'acme' });
    }
  });
});

describe('applySiteHeaders and extractSiteContext', () => {
  let resolver: SiteResolver;
  beforeAll(() => {
    resolver = createSiteResolver({ sql: net.pool, baseDomain: BASE, listen: false });
  });
  afterAll(() => resolver.close());

  const spoofed = () => ({
    'X-Site-Id': '1',
    'x-site-schema': 'site_network',
    'X-SITE-SLUG': 'network',
    'x-site-status': 'active',
    'x-site-role': 'superadmin',
    'X-Site-': 'x',
    'x-sitemap': 'kept',
  });

  it('strips every client x-site-* header and sets the resolved site', async () => {
    const request = new Request('https://acme-shop.example/path', { headers: { ...spoofed(), host: 'ACME-SHOP.example:443' } });
    const resolved = await applySiteHeaders(request, resolver);
    expect(resolved).toEqual(site.acme);
    const siteHeaders = [...request.headers].filter(([name]) => name.startsWith('x-site'));
    expect(Object.fromEntries(siteHeaders)).toEqual({
      'x-site-id': String(site.acme!.siteId),
      'x-site-slug': 'acme',
      'x-site-schema': 'site_acme',
      'x-site-status': 'active',
      'x-sitemap': 'kept',
    });
    expect(extractSiteContext(request.headers)).toEqual({ siteId: site.acme!.siteId, schemaName: 'site_acme', slug: 'acme', status: 'active' });
  });

  it('leaves no x-site-* header when the host belongs to no site, so a spoofed one never survives', async () => {
    const headers = new Headers({ ...spoofed(), host: 'unknown.example' });
    expect(await resolver.applySiteHeaders(headers)).toBeNull();
    expect([...headers.keys()].filter((name) => name.startsWith('x-site-'))).toEqual([]);
    expect(extractSiteContext(headers)).toBeNull();
  });

  it('strips spoofed headers even when the lookup fails', async () => {
    const unreachable = createPool('postgres://postgres@127.0.0.1:1/none', { max: 1, connect_timeout: 2 });
    const failing = createSiteResolver({ sql: unreachable, listen: false });
    const headers = new Headers({ ...spoofed(), host: 'acme-shop.example' });
    await expect(applySiteHeaders(headers, failing)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await unreachable.end();
    expect([...headers.keys()].filter((name) => name.startsWith('x-site-'))).toEqual([]);
  });

  it('uses the request URL when there is no Host header, or the host given', async () => {
    expect(await applySiteHeaders(new Request(`http://beta.${BASE}/`), resolver)).toEqual(site.beta);
    expect(await applySiteHeaders(new Headers(), resolver, { host: 'paused.example' })).toEqual(site.paused);
  });

  it('extractSiteContext reads Node header objects and rejects malformed values', () => {
    const good = { 'x-site-id': '42', 'x-site-schema': 'site_acme_corp' };
    expect(extractSiteContext(good)).toEqual({ siteId: 42, schemaName: 'site_acme_corp' });
    expect(extractSiteContext({ ...good, 'x-site-slug': 'acme-corp', 'x-site-status': 'suspended' })).toEqual({
      siteId: 42,
      schemaName: 'site_acme_corp',
      slug: 'acme-corp',
      status: 'suspended',
    });
    const malformed: Record<string, string | string[] | undefined>[] = [
      {},
      { 'x-site-id': '42' },
      { 'x-site-schema': 'site_acme' },
      ...['0', '-1', '1e3', '12a', ' 42', '42 ', '0x2a', '99999999999999999', '1, 2'].map((id) => ({ ...good, 'x-site-id': id })),
      ...['public', 'site_', 'site_Acme', 'site_acme;drop', '"site_acme"', 'pg_catalog', `site_${'a'.repeat(60)}`].map((schema) => ({ ...good, 'x-site-schema': schema })),
      { ...good, 'x-site-id': ['42', '43'] },
      { ...good, 'x-site-slug': 'other' },
      { ...good, 'x-site-slug': 'Acme_Corp' },
      { ...good, 'x-site-status': 'deleted' },
    ];
    for (const headers of malformed) expect(extractSiteContext(headers), JSON.stringify(headers)).toBeNull();
    const doubled = new Headers(good);
    doubled.append('x-site-id', '43');
    expect(extractSiteContext(doubled)).toBeNull();
  });
});

describe('explainHost', () => {
  const explain = (host: string) => explainHost(ctx, host, { baseDomain: BASE });

  it('says which rule matched or what stopped the host', async () => {
    expect(await explain('acme-shop.example')).toMatchObject({ site: site.acme, matchedBy: 'domain', reason: 'acme-shop.example is a verified custom domain of site "acme"' });
    expect(await explain(`beta.${BASE}`)).toMatchObject({ site: site.beta, matchedBy: 'subdomain' });
    expect((await explain('paused.example')).reason).toMatch(/suspended: it resolves with status suspended/);
    expect(await explain('beta-pending.example')).toMatchObject({
      site: null,
      reason: 'beta-pending.example is attached to site "beta" but does not resolve: it is pending, and only verified domains resolve',
    });
    expect((await explain('gone.example')).reason).toMatch(/site "gone" is soft-deleted/);
    expect((await explain(`gone.${BASE}`)).reason).toBe('site "gone" is soft-deleted');
    expect((await explain(`nobody.${BASE}`)).reason).toBe('no site has the slug "nobody"');
    expect((await explain(`a.b.${BASE}`)).reason).toMatch(/is not <slug>\.sites\.example\.net/);
    expect((await explain('nothing.example')).reason).toBe('no site has the domain nothing.example');
    expect((await explainHost(ctx, 'nothing.example', { baseDomain: null })).reason).toMatch(/set INDIGO_BASE_DOMAIN/);
    expect(await explain('not a host')).toMatchObject({ normalized: null, site: null });
  });
});
