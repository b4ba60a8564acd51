import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndigoContext } from '../../src/lib/context.js';
import { LOCK_CLASS_SITE } from '../../src/lib/db/locks.js';
import { ForbiddenError, MigrationIntegrityError, NotFoundError, ValidationError } from '../../src/lib/errors.js';
import { loadSiteMigrations, applySiteMigrations } from '../../src/lib/migrations/site.js';
import { migrateSites, type MigrateSitesEvent, type MigrateSitesReport, type SiteOutcome } from '../../src/lib/migrations/runner.js';
import { LOCK_LOST_SQLSTATE, MIGRATE_APPLICATION_NAME, migrateLockCheck } from '../../src/lib/migrations/lock.js';
import { checkFailure, sqlChecks } from '../../src/lib/migrations/sql-checks.js';
import { siteMigrationStatus } from '../../src/lib/migrations/status.js';
import { createSite } from '../../src/lib/sites/sites.js';
import { copyOfPackagedMigrations, createSites, indigoAdvisoryLocks, WORD_COUNT_MIGRATION, type MigrationDir } from '../support/migrations-fixtures.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

let network: TestNetwork;
let migrations: MigrationDir;
let ctx: IndigoContext;
let tags: string;

const bySlug = (report: MigrateSitesReport) => new Map<string, SiteOutcome>(report.sites.map((site) => [site.slug, site]));
const historyOf = async (schema: string) => (await network.sql.unsafe(`select name from "${schema}".indigo_migrations order by name`)).map((row) => row.name as string);
const siteId = async (slug: string) => (await network.pool`select id from sites where slug = ${slug}`)[0].id as number;

/** Holds a site's advisory lock from another session, as a clone or a delete of it would. */
async function holdSiteLock(slug: string): Promise<{ id: number; release(): Promise<void> }> {
  const session = await network.sql.reserve();
  const id = await siteId(slug);
  await session`select pg_advisory_lock(${LOCK_CLASS_SITE}, ${id})`;
  let released: Promise<void> | undefined;
  return {
    id,
    release: () => (released ??= session`select pg_advisory_unlock_all()`.then(() => session.release())),
  };
}

beforeAll(async () => {
  migrations = copyOfPackagedMigrations();
  network = await createTestNetwork({ siteMigrationsDir: migrations.dir });
  ctx = network.ctx;
  await createSites(ctx, 'r', 12);
});

afterAll(async () => {
  await network?.drop();
  migrations?.remove();
});

describe('migrateSites', () => {
  it('migrates every site in one transaction each, with history rows and one audit entry per site', async () => {
    const name = migrations.add('word_count', WORD_COUNT_MIGRATION);
    await network.sql.unsafe(`insert into site_r0.cms_posts (slug, title, body) values ('a', 'A', 'one two three')`);
    const connections: Promise<number>[] = [];
    const events: MigrateSitesEvent[] = [];
    const report = await migrateSites(ctx, {
      concurrency: 3,
      onEvent: (event) => {
        events.push(event);
        // Sampled while sites are in flight: the run's own sessions, lock included.
        if (event.type === 'site-start') {
          connections.push(network.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = ${MIGRATE_APPLICATION_NAME}`.then(([row]) => row.n));
        }
      },
    });
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ sites: 13, migrated: 13, upToDate: 0, failed: 0, skipped: 0 });
    for (const site of report.sites) expect(site).toMatchObject({ status: 'migrated', applied: [name], pending: [], attempts: 1 });
    expect(await historyOf('site_r5')).toEqual(['0000_cms', name]);
    expect((await network.sql`select word_count from site_r0.cms_posts`)[0].word_count).toBe(3);
    const audit = await network.sql`select site_slug, actor, details from audit_log where action = 'site.migrate' order by site_slug`;
    expect(audit).toHaveLength(13);
    expect(audit[0]).toMatchObject({ actor: 'test-operator', details: { migrations: [name] } });
    expect(Math.max(...(await Promise.all(connections)))).toBeLessThanOrEqual(3 + 1);
    expect(events.filter((e) => e.type === 'site-done')).toHaveLength(13);
    expect(events.find((e) => e.type === 'planned')).toMatchObject({ sites: 13, toMigrate: 13, upToDate: 0 });
    expect(await indigoAdvisoryLocks(network.sql)).toBe(0);
  });

  it('a second run finds everything up to date and changes nothing', async () => {
    const auditBefore = (await network.sql`select count(*)::int as n from audit_log`)[0].n;
    const report = await migrateSites(ctx, { concurrency: 2 });
    expect(report.summary).toMatchObject({ sites: 13, migrated: 0, upToDate: 13 });
    expect((await network.sql`select count(*)::int as n from audit_log`)[0].n).toBe(auditBefore);
  });

  it('--dry-run lists what would run per site and changes nothing', async () => {
    const name = (tags = migrations.add('tags', 'create table cms_tags (id bigint primary key generated always as identity, name text not null);'));
    const report = await migrateSites(ctx, { dryRun: true, sites: ['r1', 'r2'] });
    expect(report).toMatchObject({ dryRun: true, ok: true, summary: { sites: 2, pending: 2 } });
    expect(report.sites.map((site) => [site.slug, site.status, site.pending]).sort()).toEqual([['r1', 'pending', [name]], ['r2', 'pending', [name]]]);
    expect(await network.sql`select to_regclass('site_r1.cms_tags') as t`).toEqual([{ t: null }]);
    expect(await historyOf('site_r1')).not.toContain(name);
  });

  it('continues past a failing site, names the SQL error and migration, and a rerun runs only that site', async () => {
    const name = tags;
    await network.sql.unsafe('create table site_r3.cms_tags (conflicting int)');
    const report = await migrateSites(ctx, { concurrency: 4 });
    expect(report.ok).toBe(false);
    const outcomes = bySlug(report);
    expect(outcomes.get('r3')).toMatchObject({ status: 'failed', applied: [], pending: [name], error: { code: '42P07', migration: name, message: 'relation "cms_tags" already exists' } });
    expect(report.summary).toMatchObject({ migrated: 12, failed: 1 });
    expect(await historyOf('site_r3')).not.toContain(name);

    await network.sql.unsafe('drop table site_r3.cms_tags');
    const rerun = await migrateSites(ctx, { concurrency: 4 });
    expect(rerun.ok).toBe(true);
    expect(rerun.sites.filter((site) => site.status === 'migrated').map((site) => site.slug)).toEqual(['r3']);
  });

  it('refuses an edited applied migration before any DDL, naming the file and the sites', async () => {
    const edited = (await loadSiteMigrations(migrations.dir)).migrations[1];
    const original = edited.sql;
    const later = migrations.add('later', 'create table cms_later (id int);');
    migrations.edit(edited.name, `${original}\n-- edited after it was applied\n`);
    try {
      const failure = await migrateSites(ctx).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationIntegrityError);
      expect((failure as Error).message).toMatch(new RegExp(`${edited.name}\\.sql was edited after it was applied .* \\(and on 12 other sites\\)`));
      expect((failure as MigrationIntegrityError).details?.problems).toHaveLength(13);
      expect(await network.sql`select count(*)::int as n from pg_class where relname = 'cms_later'`).toEqual([{ n: 0 }]);
    } finally {
      migrations.edit(edited.name, original);
    }
    expect((await migrateSites(ctx)).summary.migrated).toBe(13);
    expect(await historyOf('site_r0')).toContain(later);
  });

  it('retries a site whose table is locked, then reports it failed with the lock timeout, while the others finish', async () => {
    migrations.add('locked', 'alter table cms_posts add column locked_test int;');
    const holder = await network.sql.reserve();
    try {
      await holder`begin`;
      await holder`lock table site_r7.cms_posts in access share mode`;
      const retries: number[] = [];
      const report = await migrateSites(ctx, {
        concurrency: 4,
        lockTimeout: '100ms',
        retries: 2,
        onEvent: (event) => { if (event.type === 'site-retry') retries.push(event.attempt); },
      });
      const outcomes = bySlug(report);
      expect(outcomes.get('r7')).toMatchObject({ status: 'failed', attempts: 3, error: { code: '55P03' } });
      expect(retries).toEqual([1, 2]);
      for (const [slug, outcome] of outcomes) if (slug !== 'r7') expect(outcome).toMatchObject({ status: 'migrated', attempts: 1 });
    } finally {
      await holder`rollback`;
      holder.release();
    }
  });

  it('a locked site succeeds once the lock is released during its retries', async () => {
    const holder = await network.sql.reserve();
    await holder`begin`;
    await holder`lock table site_r7.cms_posts in access share mode`;
    let released: Promise<unknown> | undefined;
    const report = await migrateSites(ctx, {
      sites: ['r7', 'r8'],
      lockTimeout: '100ms',
      retries: 5,
      onEvent: (event) => {
        if (event.type === 'site-retry') released ??= holder`rollback`.then(() => holder.release());
      },
    });
    await released;
    expect(report.ok).toBe(true);
    expect(bySlug(report).get('r7')).toMatchObject({ status: 'migrated', attempts: 2 });
  });

  it('--fail-fast starts no site after the first failure and reports the rest as skipped', async () => {
    migrations.add('fail_fast', 'alter table cms_pages add column fail_fast_test int;');
    await network.sql.unsafe('alter table site_network.cms_pages add column fail_fast_test int');
    try {
      const report = await migrateSites(ctx, { concurrency: 1, failFast: true });
      expect(report.stopped).toMatchObject({ reason: 'fail-fast' });
      expect(report.sites[0]).toMatchObject({ slug: 'network', status: 'failed' });
      expect(report.summary).toMatchObject({ failed: 1, skipped: 12, migrated: 0 });
      expect(report.sites.slice(1).every((site) => site.status === 'skipped' && site.attempts === 0)).toBe(true);
    } finally {
      await network.sql.unsafe('alter table site_network.cms_pages drop column fail_fast_test');
    }
    expect((await migrateSites(ctx)).summary.migrated).toBe(13);
  });

  it("keeps the next site's batch queued on each connection, except under --fail-fast", async () => {
    const peakInFlight = async (options: { failFast?: boolean }) => {
      let peak = 0;
      const report = await migrateSites(ctx, {
        concurrency: 1,
        ...options,
        onEvent: (event) => { if ('progress' in event) peak = Math.max(peak, event.progress.inFlight); },
      });
      expect(report.ok).toBe(true);
      return peak;
    };
    migrations.add('ahead', 'alter table cms_media add column ahead_test int;');
    expect(await peakInFlight({})).toBe(2);
    migrations.add('not_ahead', 'alter table cms_media add column not_ahead_test int;');
    expect(await peakInFlight({ failFast: true })).toBe(1);
  });

  it('migrates sites created during the run at an older version, and sites created at the latest one are left alone', async () => {
    const older = copyOfPackagedMigrations();
    const olderCtx = { ...ctx, siteMigrationsDir: older.dir };
    migrations.add('catch_up', 'alter table cms_menus add column catch_up_test int;');
    // The last site stays busy until the test has created the new sites, so the run's first pass
    // cannot end before they exist.
    const blocker = await holdSiteLock('r11');
    let created: Promise<unknown> | undefined;
    try {
      const report = await migrateSites(ctx, {
        concurrency: 2,
        lockTimeout: '50ms',
        retries: 100,
        onEvent: (event) => {
          if (event.type === 'site-done' && !created) {
            created = Promise.all([createSite(olderCtx, { slug: 'late-old' }), createSite(ctx, { slug: 'late-new' })])
              .then(() => blocker.release());
          }
        },
      });
      await created;
      expect(report.ok).toBe(true);
      const outcomes = bySlug(report);
      expect(outcomes.get('late-old')).toMatchObject({ status: 'migrated' });
      expect(outcomes.get('late-old')!.applied.length).toBeGreaterThan(1);
      expect(outcomes.get('late-new')).toMatchObject({ status: 'up-to-date' });
      const status = await siteMigrationStatus(ctx);
      expect(status.summary).toMatchObject({ sites: 15, upToDate: 15, behind: 0 });
    } finally {
      await blocker.release();
      older.remove();
    }
  });

  it('--sites and --status select sites; an unknown slug is refused before anything runs', async () => {
    await network.sql`update sites set status = 'suspended' where slug = 'r4'`;
    migrations.add('selected', 'alter table cms_media add column selected_test int;');
    const active = await migrateSites(ctx, { status: 'active', sites: ['r4', 'r5'] }).catch((error: unknown) => error);
    expect(active).toBeInstanceOf(NotFoundError);
    expect((active as Error).message).toBe('no active site "r4"');
    const report = await migrateSites(ctx, { sites: ['r4', 'r5'] });
    expect(report.sites.map((site) => [site.slug, site.status]).sort()).toEqual([['r4', 'migrated'], ['r5', 'migrated']]);
    expect((await siteMigrationStatus(ctx, { pendingOnly: true })).sites.map((site) => site.slug)).not.toContain('r4');
    await network.sql`update sites set status = 'active' where slug = 'r4'`;
    expect((await migrateSites(ctx)).summary.migrated).toBe(13);
  });

  it("checks inside each site's transaction that the lock's session is still the one that took it", async () => {
    const holder = await network.sql.reserve();
    try {
      const [session] = await holder`select pid, backend_start::text as "backendStart" from pg_stat_get_activity(pg_backend_pid())`;
      const guard = (s: { pid: number; backendStart: string }) => {
        const checks = [migrateLockCheck(s)];
        return network.sql.unsafe(`select ${sqlChecks(checks)}`).catch((error: unknown) => {
          throw checkFailure(error, checks) ?? error;
        });
      };
      await expect(guard(session as { pid: number; backendStart: string })).resolves.toBeDefined();
      // The same pid with another start time is another session: a reused pid is not the holder.
      await expect(guard({ pid: session.pid, backendStart: '2001-01-01 00:00:00+00' })).rejects.toMatchObject({
        code: LOCK_LOST_SQLSTATE,
        message: 'this migrate:sites run lost its database lock (its lock connection was closed or terminated)',
      });
      expect(() => migrateLockCheck({ pid: 1, backendStart: "x'; drop table sites; --" })).toThrow(TypeError);
    } finally {
      holder.release();
    }
  });

  it("reads a site's history again when it changed after planning, and applies nothing twice", async () => {
    const name = migrations.add('replan', 'alter table cms_media add column replan_test int;');
    const { checksum } = (await loadSiteMigrations(migrations.dir)).migrations.find((migration) => migration.name === name)!;
    const id = await siteId('r7');
    const other = await network.sql.reserve();
    try {
      // Another runner (one that lost its lock, say) applies the migration to r7 under the site's
      // lock while this run, planned from the old history, waits for that lock.
      await other`begin`;
      await other`select pg_advisory_xact_lock(${LOCK_CLASS_SITE}, ${id})`;
      await other.unsafe(`alter table site_r7.cms_media add column replan_test int;
        insert into site_r7.indigo_migrations (name, checksum, duration_ms) values ('${name}', '${checksum}', 0)`);
      const run = migrateSites(ctx, { sites: ['r7', 'r8'] });
      const waiting = async () => (await network.sql`
        select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and classid = ${LOCK_CLASS_SITE} and objid = ${id}`)[0].n;
      for (let tries = 0; (await waiting()) === 0; tries++) {
        if (tries > 200) throw new Error('the run never waited for the site lock');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await other`commit`;
      const outcomes = bySlug(await run);
      expect(outcomes.get('r7')).toMatchObject({ status: 'up-to-date', applied: [], pending: [], attempts: 1 });
      expect(outcomes.get('r8')).toMatchObject({ status: 'migrated', applied: [name] });
      expect(await historyOf('site_r7')).toContain(name);
    } finally {
      other.release();
    }
    expect((await migrateSites(ctx)).ok).toBe(true);
  });

  it('reports a site whose schema is missing as failed, and skips a site deleted during the run', async () => {
    await createSite(ctx, { slug: 'gone-before' });
    await createSite(ctx, { slug: 'gone-during' });
    migrations.add('missing', 'alter table cms_settings add column missing_test int;');
    await network.sql.unsafe('drop schema site_gone_before cascade');
    const blocker = await holdSiteLock('gone-during');
    let deleted: Promise<unknown> | undefined;
    try {
      const report = await migrateSites(ctx, {
        lockTimeout: '50ms',
        retries: 50,
        onEvent: (event) => {
          if (event.type === 'site-retry' && event.site.slug === 'gone-during') {
            deleted ??= network.sql`delete from sites where id = ${blocker.id}`
              .then(() => network.sql.unsafe('drop schema site_gone_during cascade'))
              .then(() => blocker.release());
          }
        },
      });
      await deleted;
      const outcomes = bySlug(report);
      expect(outcomes.get('gone-before')).toMatchObject({ status: 'failed', attempts: 0, error: { message: 'schema site_gone_before of site "gone-before" does not exist' } });
      expect(outcomes.get('gone-during')).toMatchObject({ status: 'skipped', reason: 'the site was deleted during the run' });
      expect([...outcomes.values()].filter((site) => site.status === 'migrated')).toHaveLength(15);
    } finally {
      await blocker.release();
      await network.sql`delete from sites where slug = 'gone-before'`;
    }
  });

  it('is refused to a user without the right, before anything is read', async () => {
    const user = { ...ctx, actor: { kind: 'user' as const, userId: 1, email: 'staff@example.com', networkRole: 'staff' as const } };
    await expect(migrateSites(user)).rejects.toThrow(ForbiddenError);
  });

  it('refuses invalid options as usage errors', async () => {
    await expect(migrateSites(ctx, { concurrency: 0 })).rejects.toThrow(ValidationError);
  });
});

describe('migrations that cannot run in a transaction', () => {
  const INDEX = 'cms_posts_title_lower_idx';
  let name: string;

  beforeAll(async () => {
    name = migrations.add('title_index', `-- indigo:no-transaction\ncreate index concurrently if not exists ${INDEX} on cms_posts (lower(title));\n`);
    migrations.add('after_index', 'alter table cms_posts add column after_index_test int;');
  });

  it('run statement by statement, and an index left invalid by an interrupted build is rebuilt', async () => {
    // What a killed CREATE INDEX CONCURRENTLY leaves behind: an INVALID index of that name.
    await network.sql.unsafe(`insert into site_r2.cms_posts (slug, title) values ('x', 'Same'), ('y', 'same')`);
    await expect(network.sql.unsafe(`create unique index concurrently ${INDEX} on site_r2.cms_posts (lower(title))`)).rejects.toThrow(/could not create unique index/);
    expect(await network.sql`select indisvalid from pg_index where indexrelid = to_regclass(${`site_r2.${INDEX}`})`).toEqual([{ indisvalid: false }]);

    const report = await migrateSites(ctx, { concurrency: 3 });
    expect(report.ok).toBe(true);
    for (const site of report.sites) expect(site.applied).toEqual([name, expect.stringMatching(/after_index$/)]);
    const indexes = await network.sql`
      select n.nspname as schema, i.indisvalid as valid, i.indisunique as unique from pg_index i
      join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace where c.relname = ${INDEX}`;
    expect(indexes).toHaveLength(15);
    expect(indexes.every((index) => index.valid && !index.unique)).toBe(true);
    expect(await historyOf('site_r2')).toContain(name);
    expect(await indigoAdvisoryLocks(network.sql)).toBe(0);
  });

  it('site:create applies them inside its one transaction, without CONCURRENTLY', async () => {
    const { migrationsApplied } = await createSite(ctx, { slug: 'fresh' });
    expect(migrationsApplied).toContain(name);
    expect(await network.sql`select indisvalid from pg_index where indexrelid = to_regclass(${`site_fresh.${INDEX}`})`).toEqual([{ indisvalid: true }]);
  });

  it('are refused inside a caller transaction on an existing site', async () => {
    const set = await loadSiteMigrations(migrations.dir);
    // Make the no-transaction migration (and the one after it) pending again on an existing site.
    const fromIndex = set.migrations.slice(set.migrations.findIndex((m) => m.name === name)).map((m) => m.name);
    await network.sql`delete from site_r1.indigo_migrations where name = any(${fromIndex})`;
    await expect(network.pool.begin((tx) => applySiteMigrations(tx, 'site_r1', set))).rejects.toThrow(/must run outside a transaction on an existing site/);
  });
});
