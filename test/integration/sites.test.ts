import { mkdtempSync, cpSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSite,
  initNetwork,
  listSites,
  packagedSiteMigrationsDir,
  readSiteHistory,
  showSite,
  updateSite,
  loadSiteMigrations,
  applySiteMigrations,
  ConflictError,
  MigrationIntegrityError,
  NotFoundError,
  ValidationError,
} from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

const CMS_TABLES = ['cms_categories', 'cms_media', 'cms_menus', 'cms_pages', 'cms_post_categories', 'cms_posts', 'cms_revisions', 'cms_settings'];

let net: TestNetwork;
beforeAll(async () => {
  net = await createTestNetwork();
});
afterAll(async () => {
  await net?.drop();
});

/** The catalog, the network rows, and who holds which network role (init may change roles). */
async function snapshot() {
  const users = await net.sql`select email, network_role from users order by email`;
  return { ...(await catalogSnapshot(net.sql)), users: users.map((row) => ({ ...row })) };
}

describe('init', () => {
  it('seeds the network admin site, and a second run changes nothing', async () => {
    const first = await initNetwork(net.ctx, { adminEmail: 'Ops@Example.COM' });
    expect(first.adminUser).toEqual({ email: 'Ops@example.com', created: true, promoted: false });
    const before = await snapshot();
    expect(before.sites.map((s) => s.slug)).toContain('network');
    expect(before.relations).toContain('public.indigo_shared_migrations r');
    const [admin] = await net.sql`select is_network_admin, schema_name from sites where slug = 'network'`;
    expect(admin).toMatchObject({ is_network_admin: true, schema_name: 'site_network' });
    const second = await initNetwork(net.ctx, { adminEmail: 'ops@example.com' });
    expect(second).toMatchObject({ changed: false, sharedMigrationsApplied: [], networkAdminSite: { created: false } });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an invalid admin email before touching anything', async () => {
    const before = await snapshot();
    await expect(initNetwork(net.ctx, { adminEmail: 'not-an-email' })).rejects.toThrow(ValidationError);
    expect(await snapshot()).toEqual(before);
  });
});

describe('createSite', () => {
  it('creates the row, the schema and every CMS table, all inside the site schema', async () => {
    const { site, migrationsApplied } = await createSite(net.ctx, { slug: 'acme-corp' });
    expect(site).toMatchObject({ slug: 'acme-corp', name: 'Acme Corp', schemaName: 'site_acme_corp', status: 'active', isNetworkAdmin: false });
    expect(migrationsApplied).toEqual((await loadSiteMigrations()).migrations.map((m) => m.name));

    const tables = await net.sql`select table_name from information_schema.tables where table_schema = 'site_acme_corp' order by 1`;
    expect(tables.map((t) => t.table_name)).toEqual([...CMS_TABLES, 'indigo_migrations']);
    // Enum types and foreign keys point inside the site schema, nothing at the placeholder or public.
    const enums = await net.sql`select n.nspname from pg_type t join pg_namespace n on n.oid = t.typnamespace where t.typname = 'cms_content_status'`;
    expect(enums.map((e) => e.nspname)).toContain('site_acme_corp');
    expect(enums.map((e) => e.nspname)).not.toContain('public');
    const foreignKeys = await net.sql`
      select c.conname, tn.nspname as target_schema from pg_constraint c
      join pg_class t on t.oid = c.confrelid join pg_namespace tn on tn.oid = t.relnamespace
      where c.contype = 'f' and c.connamespace = 'site_acme_corp'::regnamespace`;
    expect(foreignKeys.length).toBeGreaterThanOrEqual(6);
    expect(new Set(foreignKeys.map((fk) => fk.target_schema))).toEqual(new Set(['site_acme_corp']));
    const placeholder = await net.sql`select 1 from pg_namespace where nspname = 'indigo_site_template'`;
    expect(placeholder).toHaveLength(0);
    const columnTypes = await net.sql`
      select distinct udt_schema from information_schema.columns where table_schema = 'site_acme_corp' and data_type = 'USER-DEFINED'`;
    expect(columnTypes.map((c) => c.udt_schema)).toEqual(['site_acme_corp']);

    const history = await readSiteHistory(net.sql, 'site_acme_corp');
    expect(history.map((h) => h.name)).toEqual(migrationsApplied);
    for (const row of history) {
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.durationMs).toBeGreaterThanOrEqual(0);
      expect(row.appliedAt).toBeInstanceOf(Date);
    }
    const [audit] = await net.sql`select actor, action, site_slug, details from audit_log where action = 'site.create' and site_slug = 'acme-corp'`;
    expect(audit).toMatchObject({ actor: 'test-operator', site_slug: 'acme-corp' });
    expect(audit.details.schema).toBe('site_acme_corp');
  });

  it('runs inserts against the new tables with working identities and foreign keys', async () => {
    const [post] = await net.sql`insert into site_acme_corp.cms_posts (slug, title, status) values ('hello', 'Hello', 'published') returning id`;
    const [category] = await net.sql`insert into site_acme_corp.cms_categories (slug, name) values ('news', 'News') returning id`;
    await net.sql`insert into site_acme_corp.cms_post_categories (post_id, category_id) values (${post.id}, ${category.id})`;
    await expect(net.sql`insert into site_acme_corp.cms_post_categories (post_id, category_id) values (${post.id + 1000}, ${category.id})`).rejects.toMatchObject({ code: '23503' });
  });

  it('refuses an existing slug with a conflict and changes nothing', async () => {
    const before = await snapshot();
    await expect(createSite(net.ctx, { slug: 'acme-corp' })).rejects.toThrow(ConflictError);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a schema that exists without a site (drift) and changes nothing', async () => {
    await net.sql`create schema site_orphan`;
    const before = await snapshot();
    await expect(createSite(net.ctx, { slug: 'orphan' })).rejects.toThrow(/site_orphan already exists but belongs to no site/);
    expect(await snapshot()).toEqual(before);
    await net.sql`drop schema site_orphan`;
  });

  it.each(['', 'A', '1abc', 'a_b', '-a', 'a-', 'a--b', 'public', 'www', 'admin', 'api', 'information_schema', 'a";drop schema public cascade;--', '\u{1F600}', 'a'.repeat(59)])(
    'refuses the slug %j and creates nothing',
    async (slug) => {
      const before = await snapshot();
      await expect(createSite(net.ctx, { slug })).rejects.toThrow(ValidationError);
      expect(await snapshot()).toEqual(before);
    },
  );

  it('rolls everything back when a migration fails half-way', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'indigo-migrations-'));
    try {
      cpSync(packagedSiteMigrationsDir, dir, { recursive: true });
      writeFileSync(path.join(dir, '0001_broken.sql'), 'create table cms_extra (id bigint primary key);\nselect * from no_such_table;\n');
      const journalPath = path.join(dir, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
      journal.entries.push({ idx: 1, version: '7', when: Date.now(), tag: '0001_broken', breakpoints: true });
      writeFileSync(journalPath, JSON.stringify(journal));
      const before = await snapshot();
      await expect(createSite({ ...net.ctx, siteMigrationsDir: dir }, { slug: 'half-made' })).rejects.toMatchObject({ code: '42P01' });
      expect(await snapshot()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('applySiteMigrations', () => {
  it('refuses an edited applied migration, naming the file, and applies nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'indigo-migrations-'));
    try {
      cpSync(packagedSiteMigrationsDir, dir, { recursive: true });
      const file = path.join(dir, '0000_cms.sql');
      writeFileSync(file, readFileSync(file, 'utf8') + '\n-- edited\n');
      const edited = await loadSiteMigrations(dir);
      const error = await net.sql.begin((tx) => applySiteMigrations(tx, 'site_acme_corp', edited)).catch((e) => e);
      expect(error).toBeInstanceOf(MigrationIntegrityError);
      expect(error.message).toContain(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies nothing for an up-to-date site', async () => {
    const set = await loadSiteMigrations();
    expect(await net.sql.begin((tx) => applySiteMigrations(tx, 'site_acme_corp', set))).toEqual([]);
  });
});

describe('list, show, update', () => {
  it('lists sites and shows one with domain and member counts', async () => {
    const sites = await listSites(net.ctx);
    expect(sites.map((s) => s.slug)).toEqual(['acme-corp', 'network']);
    const detail = await showSite(net.ctx, 'acme-corp');
    expect(detail).toMatchObject({ slug: 'acme-corp', domains: [], members: { total: 0 } });
    await expect(showSite(net.ctx, 'nope')).rejects.toThrow(NotFoundError);
  });

  it('updates name and settings, audits the change, and removes a setting with null', async () => {
    const first = await updateSite(net.ctx, { slug: 'acme-corp', name: 'Acme Inc', settings: { theme: 'dark', perPage: 20 } });
    expect(first.changed.sort()).toEqual(['name', 'settings.perPage', 'settings.theme']);
    expect(first.site).toMatchObject({ name: 'Acme Inc', settings: { theme: 'dark', perPage: 20 } });
    const second = await updateSite(net.ctx, { slug: 'acme-corp', settings: { theme: null } });
    expect(second.site.settings).toEqual({ perPage: 20 });
    const noop = await updateSite(net.ctx, { slug: 'acme-corp', settings: { perPage: 20 } });
    expect(noop.changed).toEqual([]);
    const audits = await net.sql`select count(*)::int as n from audit_log where action = 'site.update' and site_slug = 'acme-corp'`;
    expect(audits[0].n).toBe(2);
    await expect(updateSite(net.ctx, { slug: 'acme-corp', name: '   ' })).rejects.toThrow(ValidationError);
  });
});
