import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSite } from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { collect, json, startCli, type CliResult } from '../support/cli.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { schemaExists, seedContent, siteId, waitForRelationLockWaiter, waitForSiteLockWaiter, waitUntil } from './fixtures.js';

/**
 * Lifecycle operations on one site racing each other, through the CLI as operators and cron
 * run it. Where the order matters the test makes it certain instead of hoping for it: it holds
 * a lock on audit_log, the last table every lifecycle transaction writes, so the first command
 * stops just before its commit with all its work done, and the second is seen waiting for the
 * per-site lock before the first is let go.
 */
let network: TestNetwork;
const POSTS = 2000;

beforeAll(async () => {
  network = await createTestNetwork();
});
afterAll(async () => {
  await network?.drop();
});

const cli = (args: string[]) => startCli([...args, '--database-url', network.url, '--json']);

async function sourceSite(slug: string): Promise<number> {
  const { site } = await createSite(network.ctx, { slug });
  await seedContent(network.sql, site.schemaName, { posts: POSTS, categories: 10 });
  return site.id;
}

/** Holds `lock table public.audit_log in exclusive mode` until release() (readers still pass). */
async function holdAuditLog(): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let locked!: () => void;
  const holding = new Promise<void>((resolve) => { locked = resolve; });
  const transaction = network.sql.begin(async (tx) => {
    await tx`lock table public.audit_log in exclusive mode`;
    locked();
    await released;
  });
  await holding;
  return {
    async release() {
      release();
      await transaction;
    },
  };
}

/** The clone is complete: every post and link is there and new posts get fresh ids. */
async function expectCompleteClone(schema: string): Promise<void> {
  const [counts] = await network.sql.unsafe(`
    select (select count(*)::int from "${schema}".cms_posts) as posts,
      (select count(*)::int from "${schema}".cms_post_categories) as links,
      (select count(*)::int from "${schema}".indigo_migrations) as migrations`);
  expect(counts).toEqual({ posts: POSTS, links: POSTS, migrations: 1 });
  const [post] = await network.sql.unsafe(`insert into "${schema}".cms_posts (slug, title) values ('after', 'After') returning id::int as id`);
  expect(post).toEqual({ id: POSTS + 1 });
}

/** The backend that waits for a lock on audit_log: the command stopped just before its commit. */
async function waitingBackend(): Promise<number> {
  const [row] = await network.sql<{ pid: number }[]>`
    select l.pid from pg_locks l where l.locktype = 'relation' and not l.granted and l.relation = 'public.audit_log'::regclass`;
  return row!.pid;
}

async function backendGone(pid: number): Promise<void> {
  await waitUntil(`backend ${pid} of the killed CLI has ended`, async () => (await network.sql`select 1 from pg_stat_activity where pid = ${pid}`).length === 0);
}

describe('clone and hard delete racing on one site', () => {
  it('clone first: the delete waits for the clone, then the clone exists fully and the source is gone', async () => {
    const id = await sourceSite('race-a');
    const gate = await holdAuditLog();
    const clone = collect(cli(['site:clone', 'race-a', 'race-a-copy']));
    await waitForRelationLockWaiter(network.sql, 'public.audit_log');
    const remove = collect(cli(['site:delete', 'race-a', '--hard', '--force', '--confirm', 'race-a']));
    await waitForSiteLockWaiter(network.sql, id);
    await gate.release();
    const [cloned, removed] = await Promise.all([clone, remove]);
    expect(cloned.code, cloned.stderr).toBe(0);
    expect(removed.code, removed.stderr).toBe(0);
    expect(json(removed)).toMatchObject({ site: { slug: 'race-a' }, schemaExisted: true });
    expect(await schemaExists(network.sql, 'site_race_a')).toBe(false);
    await expectCompleteClone('site_race_a_copy');
  });

  it('delete first: the clone waits, then finds no source (exit 3) and leaves nothing behind', async () => {
    const id = await sourceSite('race-b');
    const before = await catalogSnapshot(network.sql);
    const gate = await holdAuditLog();
    const remove = collect(cli(['site:delete', 'race-b', '--hard', '--force', '--confirm', 'race-b']));
    await waitForRelationLockWaiter(network.sql, 'public.audit_log');
    const clone = collect(cli(['site:clone', 'race-b', 'race-b-copy']));
    await waitForSiteLockWaiter(network.sql, id);
    await gate.release();
    const [removed, cloned] = await Promise.all([remove, clone]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(cloned.code).toBe(3);
    expect(json(cloned).error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/race-b/) });
    expect(await schemaExists(network.sql, 'site_race_b_copy')).toBe(false);
    expect(await network.sql`select 1 from sites where slug in ('race-b', 'race-b-copy')`).toHaveLength(0);
    const after = await catalogSnapshot(network.sql);
    expect(after.relations).toEqual(before.relations.filter((r) => !r.startsWith('site_race_b.')));
    expect(after.rows.audit_log).toBe(before.rows.audit_log + 1);
  });

  it('started together, they always end consistent: the source gone, the clone complete or absent', async () => {
    for (const round of [1, 2, 3]) {
      const slug = `free-${round}`;
      await sourceSite(slug);
      const results: CliResult[] = await Promise.all([
        collect(cli(['site:clone', slug, `${slug}-copy`])),
        collect(cli(['site:delete', slug, '--hard', '--force', '--confirm', slug])),
      ]);
      const [cloned, removed] = results;
      expect(removed!.code, removed!.stderr).toBe(0);
      expect(await schemaExists(network.sql, `site_free_${round}`)).toBe(false);
      if (cloned!.code === 0) await expectCompleteClone(`site_free_${round}_copy`);
      else {
        expect(cloned!.code).toBe(3);
        expect(await schemaExists(network.sql, `site_free_${round}_copy`)).toBe(false);
        expect(await network.sql`select 1 from sites where slug = ${`${slug}-copy`}`).toHaveLength(0);
      }
    }
  });
});

describe('a clone killed with SIGKILL', () => {
  it('leaves no target schema, no site row and no audit entry', async () => {
    await sourceSite('victim');
    const before = await catalogSnapshot(network.sql);
    const gate = await holdAuditLog();
    const child = cli(['site:clone', 'victim', 'victim-copy']);
    const exited = collect(child);
    await waitForRelationLockWaiter(network.sql, 'public.audit_log');
    // The clone has done all its work (schema, tables, rows, indexes) and waits only to write
    // its audit entry and commit: its backend holds locks on the relations it created.
    const pid = await waitingBackend();
    const [{ relations }] = await network.sql`
      select count(distinct relation)::int as relations from pg_locks where pid = ${pid} and locktype = 'relation' and granted`;
    expect(relations).toBeGreaterThan(30);
    child.kill('SIGKILL');
    const result = await exited;
    expect(result.signal).toBe('SIGKILL');
    await gate.release();
    await backendGone(pid);
    expect(await schemaExists(network.sql, 'site_victim_copy')).toBe(false);
    expect(await network.sql`select 1 from sites where slug = 'victim-copy'`).toHaveLength(0);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    expect(await siteId(network.sql, 'victim')).toBeGreaterThan(0);
  });
});
