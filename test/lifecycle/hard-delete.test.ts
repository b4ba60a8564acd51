import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConflictError,
  createSite,
  hardDeleteSite,
  NotFoundError,
  purgeExpiredSites,
  softDeleteSite,
  type IndigoContext,
} from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { LOCK_CLASS_SITE } from '../../src/lib/db/locks.js';
import { addDomain, addMember, schemaExists, seedContent, siteId, waitForSiteLockWaiter } from './fixtures.js';

let network: TestNetwork;
let ctx: IndigoContext;
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

beforeAll(async () => {
  network = await createTestNetwork();
  ctx = network.ctx;
});
afterAll(async () => {
  await network?.drop();
});

async function siteWithContent(slug: string, options: { softDeleted?: boolean } = {}): Promise<number> {
  const { site } = await createSite(ctx, { slug });
  await seedContent(network.sql, site.schemaName, { posts: 30, categories: 5, media: 3 });
  await addDomain(network.sql, site.id, `${slug}.example.com`, 'verified');
  await addDomain(network.sql, site.id, `www.${slug}.example.org`);
  await addMember(network.sql, site.id, `owner-${slug}@example.com`, 'owner');
  await addMember(network.sql, site.id, `editor-${slug}@example.com`, 'editor');
  if (options.softDeleted) await softDeleteSite(ctx, { slug });
  return site.id;
}

async function expectRefusedUnchanged(operation: () => Promise<unknown>, errorClass: new (...args: never[]) => Error, message: RegExp): Promise<Error> {
  const before = await catalogSnapshot(network.sql);
  const failure = await operation().catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(errorClass);
  expect((failure as Error).message).toMatch(message);
  expect(await catalogSnapshot(network.sql)).toEqual(before);
  return failure as Error;
}

describe('hard delete', () => {
  it('removes a soft-deleted site: schema, row, domains, members; reports each and audits it', async () => {
    const id = await siteWithContent('gone', { softDeleted: true });
    const result = await hardDeleteSite(ctx, { slug: 'gone', confirm: 'gone', redis: { redisUrl: '' } });
    expect(result.schemaExisted).toBe(true);
    expect(result.tables.find((t) => t.table === 'cms_posts')).toEqual({ table: 'cms_posts', rows: 30 });
    expect(result.tables.find((t) => t.table === 'cms_revisions')).toEqual({ table: 'cms_revisions', rows: 30 });
    expect(result.tables.map((t) => t.table)).toContain('indigo_migrations');
    expect(result.rows).toBe(result.tables.reduce((sum, t) => sum + t.rows, 0));
    expect(result.domains).toEqual(['gone.example.com', 'www.gone.example.org']);
    expect(result.members).toEqual({ total: 2, byRole: { editor: 1, owner: 1 } });
    expect(result.redis).toMatchObject({ skipped: true });

    expect(await schemaExists(network.sql, 'site_gone')).toBe(false);
    expect(await network.sql`select 1 from sites where id = ${id}`).toHaveLength(0);
    expect(await network.sql`select 1 from site_domains where site_id = ${id}`).toHaveLength(0);
    expect(await network.sql`select 1 from site_members where site_id = ${id}`).toHaveLength(0);
    // The users themselves are network users and stay.
    expect(await network.sql`select 1 from users where email = 'owner-gone@example.com'`).toHaveLength(1);
    const [entry] = await network.sql`select actor, action, site_id::int as site_id, details from audit_log where site_slug = 'gone' order by id desc limit 1`;
    expect(entry).toMatchObject({ actor: 'test-operator', action: 'site.hardDelete', site_id: id, details: { forced: false, schema: 'site_gone', rows: result.rows, members: 2 } });
    // The slug is free again.
    await createSite(ctx, { slug: 'gone' });
  });

  it('refuses without confirmation, or with a confirmation that does not match, changing nothing', async () => {
    await siteWithContent('careful', { softDeleted: true });
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'careful' }), ConflictError, /needs its slug typed again as confirmation \(--confirm careful\)/);
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'careful', confirm: '' }), ConflictError, /needs its slug typed again/);
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'careful', confirm: 'carefull' }), ConflictError, /confirmation "carefull" does not match the slug "careful"/);
  });

  it('refuses an active site without force, and removes it with force', async () => {
    await siteWithContent('active-one');
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'active-one', confirm: 'active-one' }), ConflictError, /is not soft-deleted: .*--force/);
    const result = await hardDeleteSite(ctx, { slug: 'active-one', confirm: 'active-one', force: true, redis: { redisUrl: '' } });
    expect(result.site.deletedAt).toBeNull();
    expect(await schemaExists(network.sql, 'site_active_one')).toBe(false);
    const [entry] = await network.sql`select details from audit_log where site_slug = 'active-one' and action = 'site.hardDelete'`;
    expect(entry!.details).toMatchObject({ forced: true });
  });

  it('never drops the network admin site, even with force', async () => {
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'network', confirm: 'network', force: true }), ConflictError, /network admin site and cannot be deleted/);
  });

  it('refuses a missing site with not found', async () => {
    await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'nope', confirm: 'nope', force: true }), NotFoundError, /site "nope" does not exist/);
  });

  it('refuses when a view in public depends on a site table, listing it; nothing outside disappears', async () => {
    await siteWithContent('viewed', { softDeleted: true });
    await network.sql.unsafe(`create view public.viewed_recent_posts as select id, title from site_viewed.cms_posts where status = 'published'`);
    const error = await expectRefusedUnchanged(
      () => hardDeleteSite(ctx, { slug: 'viewed', confirm: 'viewed' }),
      ConflictError,
      /refusing to drop site_viewed: 1 object outside it depends on it .*view public\.viewed_recent_posts/,
    );
    expect((error as ConflictError).details!.dependents).toContainEqual(expect.objectContaining({ object: 'view public.viewed_recent_posts', schema: 'public' }));
    expect(await network.sql`select 1 from public.viewed_recent_posts limit 1`).toHaveLength(1);
    await network.sql.unsafe('drop view public.viewed_recent_posts');
    await hardDeleteSite(ctx, { slug: 'viewed', confirm: 'viewed', redis: { redisUrl: '' } });
  });

  it('refuses when another schema has a foreign key to a site table, or a default using a site sequence', async () => {
    await siteWithContent('linked', { softDeleted: true });
    await network.sql.unsafe(`
      create schema outside_app;
      create table outside_app.bookmarks (post_id bigint references site_linked.cms_posts (id));
      create table public.tickets (n bigint default nextval('site_linked.cms_posts_id_seq'))`);
    const error = await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'linked', confirm: 'linked' }), ConflictError, /2 objects outside it depend on it/);
    const objects = (error as ConflictError).details!.dependents as { object: string; via: string }[];
    expect(objects.map((d) => d.object)).toEqual(expect.arrayContaining(['table outside_app.bookmarks', 'table public.tickets']));
    expect(objects.map((d) => d.via).join('\n')).toMatch(/constraint bookmarks_post_id_fkey on outside_app\.bookmarks/);
    await network.sql.unsafe('drop schema outside_app cascade; drop table public.tickets');
  });

  it('never drops a schema that is not a site schema name, even if a site row records it', async () => {
    await siteWithContent('tampered', { softDeleted: true });
    await network.sql`update sites set schema_name = 'public' where slug = 'tampered'`;
    try {
      await expectRefusedUnchanged(() => hardDeleteSite(ctx, { slug: 'tampered', confirm: 'tampered' }), ConflictError, /records schema "public", which is not a site schema name: refusing to touch it/);
    } finally {
      await network.sql`update sites set schema_name = 'site_tampered' where slug = 'tampered'`;
    }
  });

  it('removes a site whose schema is already missing and says so', async () => {
    await siteWithContent('hollow', { softDeleted: true });
    await network.sql.unsafe('drop schema site_hollow cascade');
    const result = await hardDeleteSite(ctx, { slug: 'hollow', confirm: 'hollow', redis: { redisUrl: '' } });
    expect(result).toMatchObject({ schemaExisted: false, tables: [], rows: 0, members: { total: 2 } });
    expect(await network.sql`select 1 from sites where slug = 'hollow'`).toHaveLength(0);
  });

  it("purges the site's Redis keys and queues after the commit, and only its own", async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
    } catch {
      console.warn(`no Redis at ${redisUrl}: skipping the Redis purge check`);
      return;
    }
    try {
      const id = await siteWithContent('cached', { softDeleted: true });
      const other = id + 1000;
      await redis.set(`site:${id}:page:/`, 'html');
      await redis.set(`site:${id}:menu`, 'json');
      await redis.set(`site:${other}:page:/`, 'someone else');
      const result = await hardDeleteSite(ctx, { slug: 'cached', confirm: 'cached', redis: { redisUrl } });
      expect(result.redis).toMatchObject({ skipped: false, keys: 2 });
      expect(await redis.exists(`site:${id}:page:/`, `site:${id}:menu`)).toBe(0);
      expect(await redis.get(`site:${other}:page:/`)).toBe('someone else');
      await redis.del(`site:${other}:page:/`);
    } finally {
      redis.disconnect();
    }
  });

  it('reports an unreachable Redis without undoing the committed delete', async () => {
    await siteWithContent('redisless', { softDeleted: true });
    const warnings: string[] = [];
    const result = await hardDeleteSite({ ...ctx, log: { ...ctx.log, warn: (m) => warnings.push(m) } }, { slug: 'redisless', confirm: 'redisless', redis: { redisUrl: 'redis://127.0.0.1:1' } });
    expect(result.redis).toMatchObject({ failed: true, error: expect.stringMatching(/could not connect to Redis/) });
    expect(warnings.join('\n')).toMatch(/was deleted, but its Redis keys and queues were not purged/);
    expect(await network.sql`select 1 from sites where slug = 'redisless'`).toHaveLength(0);
  });
});

describe('purge', () => {
  it('removes only soft-deleted sites whose grace period has passed; --dry-run changes nothing', async () => {
    await siteWithContent('expired-a');
    await siteWithContent('expired-b');
    await siteWithContent('still-graced');
    await siteWithContent('alive');
    await softDeleteSite(ctx, { slug: 'expired-a', graceSeconds: 0 });
    await softDeleteSite(ctx, { slug: 'expired-b', graceSeconds: 0 });
    await softDeleteSite(ctx, { slug: 'still-graced', graceSeconds: 3600 });
    // Sites soft-deleted by the tests above with the default grace are not due either.

    const before = await catalogSnapshot(network.sql);
    const preview = await purgeExpiredSites(ctx, { dryRun: true });
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    expect(preview).toMatchObject({ dryRun: true, purged: 0, failed: 0 });
    expect(preview.sites.map((s) => [s.slug, s.outcome])).toEqual([['expired-a', 'would-purge'], ['expired-b', 'would-purge']]);
    expect(preview.sites[0]).toMatchObject({ rows: expect.any(Number), domains: ['expired-a.example.com', 'www.expired-a.example.org'], blockedBy: [] });

    const seen: string[] = [];
    const result = await purgeExpiredSites(ctx, { redis: { redisUrl: '' }, onSite: (s) => seen.push(`${s.slug}:${s.outcome}`) });
    expect(seen).toEqual(['expired-a:purged', 'expired-b:purged']);
    expect(result).toMatchObject({ dryRun: false, purged: 2, failed: 0 });
    expect(await network.sql`select slug from sites where slug in ('expired-a', 'expired-b')`).toHaveLength(0);
    expect((await network.sql`select slug from sites where slug in ('still-graced', 'alive') order by slug`).map((r) => r.slug)).toEqual(['alive', 'still-graced']);
    expect(await network.sql`select site_slug from audit_log where action = 'site.purge' order by id`).toEqual([{ site_slug: 'expired-a' }, { site_slug: 'expired-b' }]);
  });

  it('goes on past a site it cannot remove and reports it as failed', async () => {
    await siteWithContent('blocked');
    await siteWithContent('free');
    await softDeleteSite(ctx, { slug: 'blocked', graceSeconds: 0 });
    await softDeleteSite(ctx, { slug: 'free', graceSeconds: 0 });
    await network.sql.unsafe('create view public.blocked_posts as select * from site_blocked.cms_posts');
    const result = await purgeExpiredSites(ctx, { redis: { redisUrl: '' } });
    expect(result.sites.map((s) => [s.slug, s.outcome])).toEqual([['blocked', 'failed'], ['free', 'purged']]);
    expect(result.sites[0]).toMatchObject({ code: 'OUTSIDE_DEPENDENTS', error: expect.stringMatching(/view public\.blocked_posts/) });
    expect(result.failed).toBe(1);
    expect(await schemaExists(network.sql, 'site_blocked')).toBe(true);
    expect(await network.sql`select 1 from public.blocked_posts limit 1`).toHaveLength(1);
    await network.sql.unsafe('drop view public.blocked_posts');
  });

  it('skips a site restored while the purge waited for its lock', async () => {
    const id = await siteId(network.sql, 'blocked');
    const before = await catalogSnapshot(network.sql);
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let locked!: () => void;
    const holdsLock = new Promise<void>((resolve) => { locked = resolve; });
    // Another operation holds the site's lifecycle lock, restores the site and commits while
    // the purge, which already listed the site as due, waits for that lock.
    const restorer = network.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_CLASS_SITE}, ${id})`;
      locked();
      await released;
      await tx`update sites set deleted_at = null, deleted_by = null, purge_after = null where id = ${id}`;
    });
    await holdsLock;
    const purge = purgeExpiredSites(ctx, { redis: { redisUrl: '' } });
    await waitForSiteLockWaiter(network.sql, id);
    release();
    await restorer;
    const result = await purge;
    expect(result.sites).toEqual([{ slug: 'blocked', outcome: 'skipped', reason: 'restored or given a longer grace period meanwhile' }]);
    expect(result).toMatchObject({ purged: 0, failed: 0 });
    const after = await catalogSnapshot(network.sql);
    expect(after.relations).toEqual(before.relations);
    expect(after.rows).toEqual(before.rows);
  });
});
