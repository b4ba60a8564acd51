import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConflictError,
  createSite,
  ForbiddenError,
  listSites,
  NotFoundError,
  parseGracePeriod,
  restoreSite,
  softDeleteSite,
  suspendSite,
  unsuspendSite,
  ValidationError,
  type IndigoContext,
} from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { addDomain, addMember, seedContent, siteId } from './fixtures.js';

let network: TestNetwork;
let ctx: IndigoContext;

beforeAll(async () => {
  network = await createTestNetwork();
  ctx = network.ctx;
  for (const slug of ['acme', 'beta', 'gamma']) await createSite(ctx, { slug });
  await seedContent(network.sql, 'site_acme', { posts: 20 });
});
afterAll(async () => {
  await network?.drop();
});

async function auditOf(slug: string): Promise<{ action: string; actor: string; details: Record<string, unknown> }[]> {
  return network.sql`select action, actor, details from audit_log where site_slug = ${slug} order by id`;
}

describe('suspend and unsuspend', () => {
  it('suspends with a reason, keeps data and domains, and writes one audit entry', async () => {
    await addDomain(network.sql, await siteId(network.sql, 'acme'), 'acme.example.com', 'verified');
    const result = await suspendSite(ctx, { slug: 'acme', reason: 'unpaid invoice' });
    expect(result.changed).toBe(true);
    expect(result.site).toMatchObject({ status: 'suspended', statusReason: 'unpaid invoice', deletedAt: null });
    expect((await network.sql`select count(*)::int as n from site_acme.cms_posts`)[0]!.n).toBe(20);
    expect(await network.sql`select domain from site_domains where site_id = ${result.site.id}`).toHaveLength(1);
    expect((await auditOf('acme')).filter((e) => e.action === 'site.suspend')).toEqual([
      { action: 'site.suspend', actor: 'test-operator', details: { reason: 'unpaid invoice' } },
    ]);
  });

  it('suspending a suspended site changes nothing and says so', async () => {
    const before = await catalogSnapshot(network.sql);
    const again = await suspendSite(ctx, { slug: 'acme', reason: 'another reason' });
    expect(again.changed).toBe(false);
    expect(again.site.statusReason).toBe('unpaid invoice');
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it('unsuspends, clearing the reason; a second unsuspend is a no-op', async () => {
    const result = await unsuspendSite(ctx, { slug: 'acme' });
    expect(result).toMatchObject({ changed: true, site: { status: 'active', statusReason: null } });
    const before = await catalogSnapshot(network.sql);
    expect((await unsuspendSite(ctx, { slug: 'acme' })).changed).toBe(false);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it.each([
    ['the network admin site', () => suspendSite(ctx, { slug: 'network' }), ConflictError, /network admin site and cannot be suspended/],
    ['a missing site', () => suspendSite(ctx, { slug: 'nope' }), NotFoundError, /site "nope" does not exist/],
    ['an empty reason', () => suspendSite(ctx, { slug: 'beta', reason: '  ' }), ValidationError, /reason is empty/],
    ['a reason with control characters', () => suspendSite(ctx, { slug: 'beta', reason: 'a\u0000b' }), ValidationError, /control characters/],
    ['a staff user', () => suspendSite({ ...ctx, actor: { kind: 'user', userId: 1, email: 'staff@example.com', networkRole: 'staff' } }, { slug: 'beta' }), ForbiddenError, /may not site.suspend/],
  ])('refuses %s and changes nothing', async (_what, operation, errorClass, message) => {
    const before = await catalogSnapshot(network.sql);
    const failure = await operation().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(errorClass);
    expect((failure as Error).message).toMatch(message);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });
});

describe('soft delete and restore', () => {
  it('parses grace periods and refuses malformed or too long ones', () => {
    expect(parseGracePeriod('7d')).toBe(7 * 86_400);
    expect(parseGracePeriod('12h')).toBe(12 * 3600);
    expect(parseGracePeriod('2w')).toBe(14 * 86_400);
    expect(parseGracePeriod('0d')).toBe(0);
    for (const bad of ['', '7', 'd', '-1d', '1.5d', '7 days', '7D', '3651d']) expect(() => parseGracePeriod(bad), bad).toThrow(ValidationError);
  });

  it('marks the site deleted with who and when, keeps schema, domains and members, and hides it from site:list', async () => {
    const betaId = await siteId(network.sql, 'beta');
    await addDomain(network.sql, betaId, 'beta.example.com');
    await addMember(network.sql, betaId, 'editor@example.com', 'editor');
    await suspendSite(ctx, { slug: 'beta', reason: 'moving' });
    const [{ now }] = await network.sql`select now() as now`;
    const result = await softDeleteSite(ctx, { slug: 'beta', graceSeconds: parseGracePeriod('7d') });
    expect(result.changed).toBe(true);
    expect(result.site.deletedBy).toBe('test-operator');
    expect(result.site.purgeAfter!.getTime() - result.site.deletedAt!.getTime()).toBe(7 * 86_400_000);
    expect(result.site.deletedAt!.getTime()).toBeGreaterThanOrEqual((now as Date).getTime());
    expect(await network.sql`select 1 from pg_namespace where nspname = 'site_beta'`).toHaveLength(1);
    expect(await network.sql`select 1 from site_domains where site_id = ${betaId}`).toHaveLength(1);
    expect(await network.sql`select 1 from site_members where site_id = ${betaId}`).toHaveLength(1);
    expect((await listSites(ctx)).map((s) => s.slug)).not.toContain('beta');
    expect((await listSites(ctx, { status: 'deleted' })).map((s) => s.slug)).toEqual(['beta']);
    expect((await listSites(ctx, { status: 'all' })).map((s) => s.slug)).toContain('beta');
    expect((await auditOf('beta')).at(-1)).toMatchObject({ action: 'site.delete', details: { graceSeconds: 604_800 } });
  });

  it('uses a 30-day grace period by default', async () => {
    const result = await softDeleteSite(ctx, { slug: 'gamma' });
    expect(result.site.purgeAfter!.getTime() - result.site.deletedAt!.getTime()).toBe(30 * 86_400_000);
    await restoreSite(ctx, { slug: 'gamma' });
  });

  it('keeps the slug reserved while deleted', async () => {
    const before = await catalogSnapshot(network.sql);
    await expect(createSite(ctx, { slug: 'beta' })).rejects.toThrow(/site "beta" already exists/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it('deleting a deleted site changes nothing; suspending it is refused', async () => {
    const before = await catalogSnapshot(network.sql);
    expect((await softDeleteSite(ctx, { slug: 'beta', graceSeconds: 60 })).changed).toBe(false);
    await expect(suspendSite(ctx, { slug: 'beta' })).rejects.toThrow(/is deleted and cannot be suspended; restore it first/);
    await expect(unsuspendSite(ctx, { slug: 'beta' })).rejects.toThrow(ConflictError);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it('restore brings the site back exactly as it was, suspended and with its reason', async () => {
    const before = (await network.sql`select * from sites where slug = 'beta'`)[0]!;
    const result = await restoreSite(ctx, { slug: 'beta' });
    expect(result.changed).toBe(true);
    expect(result.site).toMatchObject({ status: 'suspended', statusReason: 'moving', deletedAt: null, deletedBy: null, purgeAfter: null });
    const after = (await network.sql`select * from sites where slug = 'beta'`)[0]!;
    expect({ ...after, updated_at: null }).toEqual({ ...before, deleted_at: null, deleted_by: null, purge_after: null, updated_at: null });
    expect((await auditOf('beta')).at(-1)).toMatchObject({ action: 'site.restore', details: { deletedBy: 'test-operator' } });
    expect((await listSites(ctx)).map((s) => s.slug)).toContain('beta');
  });

  it('restoring a site that is not deleted changes nothing', async () => {
    const before = await catalogSnapshot(network.sql);
    expect((await restoreSite(ctx, { slug: 'beta' })).changed).toBe(false);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });

  it('refuses to delete the network admin site, and an out-of-range grace, changing nothing', async () => {
    const before = await catalogSnapshot(network.sql);
    await expect(softDeleteSite(ctx, { slug: 'network' })).rejects.toThrow(/network admin site and cannot be deleted/);
    await expect(softDeleteSite(ctx, { slug: 'gamma', graceSeconds: -1 })).rejects.toThrow(ValidationError);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
  });
});
