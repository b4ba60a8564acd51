import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSite,
  ForbiddenError,
  listAuditEntries,
  networkStats,
  NotFoundError,
  packagedSiteMigrationsDir,
  softDeleteSite,
  suspendSite,
  hardDeleteSite,
  ValidationError,
  type IndigoContext,
} from '../../src/index.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { addDomain, addMember, seedContent, siteId } from './fixtures.js';

let network: TestNetwork;
let ctx: IndigoContext;
let migrationsDir: string;

beforeAll(async () => {
  network = await createTestNetwork();
  ctx = network.ctx;
  for (const slug of ['big', 'medium', 'small', 'paused', 'binned', 'due']) await createSite(ctx, { slug });
  await seedContent(network.sql, 'site_big', { posts: 3000 });
  await seedContent(network.sql, 'site_medium', { posts: 500 });
  await suspendSite(ctx, { slug: 'paused' });
  await softDeleteSite(ctx, { slug: 'binned' });
  await softDeleteSite(ctx, { slug: 'due', graceSeconds: 0 });
  const big = await siteId(network.sql, 'big');
  await addDomain(network.sql, big, 'big.example.com', 'verified');
  await addDomain(network.sql, big, 'big.example.org', 'pending');
  await addDomain(network.sql, await siteId(network.sql, 'small'), 'small.example.com', 'failed');
  await addMember(network.sql, big, 'a@example.com', 'owner');
  await addMember(network.sql, await siteId(network.sql, 'small'), 'a@example.com', 'viewer');
  await network.sql`insert into users (email) values ('loner@example.com')`;

  // A copy of the packaged site migrations plus one more, as a deploy would bring.
  migrationsDir = mkdtempSync(path.join(tmpdir(), 'indigo-stats-'));
  cpSync(packagedSiteMigrationsDir, migrationsDir, { recursive: true });
  writeFileSync(path.join(migrationsDir, '0001_tags.sql'), 'create table cms_tags (id bigint primary key, name text not null);\n');
  const journalPath = path.join(migrationsDir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
  journal.entries.push({ idx: 1, version: '7', when: Date.now(), tag: '0001_tags', breakpoints: true });
  writeFileSync(journalPath, JSON.stringify(journal));
});
afterAll(async () => {
  await network?.drop();
  rmSync(migrationsDir, { recursive: true, force: true });
});

describe('site:stats', () => {
  it('counts sites by status, domains by state and members', async () => {
    const stats = await networkStats(ctx);
    // network + big, medium, small, paused, binned, due
    expect(stats.sites).toEqual({ total: 7, active: 4, suspended: 1, deleted: 2, purgeDue: 1 });
    expect(stats.domains).toEqual({ total: 3, pending: 1, verified: 1, failed: 1 });
    expect(stats.members).toEqual({ memberships: 2, users: 2, usersWithoutSite: 1 });
  });

  it('lists the largest site schemas first, top N, and their total', async () => {
    const stats = await networkStats(ctx, { top: 2 });
    expect(stats.size.top.map((s) => s.slug)).toEqual(['big', 'medium']);
    expect(stats.size.top[0]).toMatchObject({ schemaName: 'site_big', bytes: expect.any(Number) });
    expect(stats.size.top[0]!.bytes).toBeGreaterThan(stats.size.top[1]!.bytes);
    const all = await networkStats(ctx, { top: 100 });
    expect(all.size.top).toHaveLength(7);
    expect(all.size.totalBytes).toBe(all.size.top.reduce((sum, s) => sum + s.bytes, 0));
  });

  it('reports no drift and no pending migrations on a consistent network', async () => {
    const stats = await networkStats(ctx);
    expect(stats.drift).toEqual({ schemasWithoutSite: [], sitesWithoutSchema: [] });
    expect(stats.migrations).toEqual({ available: ['0000_cms'], sitesBehind: 0, pending: [], integrityErrors: [] });
  });

  it('reports schemas without a site row and site rows without their schema', async () => {
    await network.sql.unsafe('create schema site_leftover; alter schema site_small rename to site_small_moved');
    try {
      const stats = await networkStats(ctx);
      expect(stats.drift).toEqual({
        schemasWithoutSite: ['site_leftover', 'site_small_moved'],
        sitesWithoutSchema: [{ slug: 'small', schemaName: 'site_small' }],
      });
    } finally {
      await network.sql.unsafe('drop schema site_leftover; alter schema site_small_moved rename to site_small');
    }
  });

  it('reports pending site migrations per site, and sites whose history no longer matches the files', async () => {
    const stats = await networkStats({ ...ctx, siteMigrationsDir: migrationsDir });
    expect(stats.migrations.available).toEqual(['0000_cms', '0001_tags']);
    expect(stats.migrations.sitesBehind).toBe(7);
    expect(stats.migrations.pending).toContainEqual({ slug: 'big', pending: ['0001_tags'] });

    await network.sql`update site_medium.indigo_migrations set checksum = 'edited' where name = '0000_cms'`;
    try {
      const drifted = await networkStats({ ...ctx, siteMigrationsDir: migrationsDir });
      expect(drifted.migrations.sitesBehind).toBe(6);
      expect(drifted.migrations.integrityErrors).toEqual([{ slug: 'medium', error: expect.stringMatching(/0000_cms.sql was edited after it was applied to site_medium/) }]);
    } finally {
      await network.sql`update site_medium.indigo_migrations set checksum = (select checksum from site_big.indigo_migrations where name = '0000_cms')`;
    }
  });

  it('refuses a bad --top and an actor without the right', async () => {
    await expect(networkStats(ctx, { top: 0 })).rejects.toThrow(ValidationError);
    await expect(networkStats(ctx, { top: 1.5 })).rejects.toThrow(ValidationError);
    await expect(networkStats({ ...ctx, actor: { kind: 'user', userId: 1, email: 'x@example.com', networkRole: 'none' } })).rejects.toThrow(ForbiddenError);
    await expect(networkStats({ ...ctx, actor: { kind: 'user', userId: 1, email: 'x@example.com', networkRole: 'staff' } })).resolves.toBeTruthy();
  });
});

describe('audit:list', () => {
  it('lists the newest entries first with actor, action, site and details', async () => {
    const entries = await listAuditEntries(ctx, { limit: 3 });
    expect(entries).toHaveLength(3);
    expect(entries[0]!.id).toBeGreaterThan(entries[1]!.id);
    expect(entries[0]).toMatchObject({ actor: 'test-operator', action: 'site.delete', siteSlug: 'due', details: { graceSeconds: 0 } });
  });

  it('filters by site, and keeps the entries of a hard-deleted site', async () => {
    expect((await listAuditEntries(ctx, { site: 'paused' })).map((e) => e.action)).toEqual(['site.suspend', 'site.create']);
    await hardDeleteSite(ctx, { slug: 'due', confirm: 'due', redis: { redisUrl: '' } });
    expect((await listAuditEntries(ctx, { site: 'due' })).map((e) => e.action)).toEqual(['site.hardDelete', 'site.delete', 'site.create']);
  });

  it('refuses a limit out of range, an unknown site without entries, and an actor without the right', async () => {
    await expect(listAuditEntries(ctx, { limit: 0 })).rejects.toThrow(ValidationError);
    await expect(listAuditEntries(ctx, { limit: 10_001 })).rejects.toThrow(ValidationError);
    await expect(listAuditEntries(ctx, { site: 'never-existed' })).rejects.toThrow(NotFoundError);
    await expect(listAuditEntries({ ...ctx, actor: { kind: 'user', userId: 1, email: 'x@example.com', networkRole: 'staff' } })).rejects.toThrow(ForbiddenError);
  });
});
