import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLASS, LockKey } from '../../src/lib/db/locks.js';
import { collect, json, startCli } from '../support/cli.js';
import { copyOfPackagedMigrations, createSites, indigoAdvisoryLocks, WORD_COUNT_MIGRATION, wordCountState, type MigrationDir } from '../support/migrations-fixtures.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

const SITES = 150;
let network: TestNetwork;
let migrations: MigrationDir;

const start = (args: string[]) => startCli([...args, '--database-url', network.url], { env: { INDIGO_SITE_MIGRATIONS: migrations.dir, NO_COLOR: '1' } });

/** Resolves with the match once the child's stderr has a line matching `pattern`. */
function waitForLine(child: ChildProcess, pattern: RegExp, count = 1): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let seen = 0;
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const match = line.match(pattern);
        if (match && ++seen === count) {
          child.stderr!.off('data', onData);
          resolve(match);
          return;
        }
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing ${pattern}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
  else child.once('exit', (code) => resolve(code));
});

async function auditCountsFor(migration: string): Promise<Map<string, number>> {
  const rows = await network.sql<{ slug: string; n: number }[]>`
    select site_slug as slug, count(*)::int as n from audit_log
    where action = 'site.migrate' and details->'migrations' ? ${migration} group by site_slug`;
  return new Map(rows.map((row) => [row.slug, row.n]));
}

beforeAll(async () => {
  migrations = copyOfPackagedMigrations();
  network = await createTestNetwork({ siteMigrationsDir: migrations.dir });
  await createSites(network.ctx, 'k', SITES - 1);
});

afterAll(async () => {
  await network?.drop();
  migrations?.remove();
});

describe('migrate:sites under SIGKILL', () => {
  it('leaves every site either fully migrated or untouched, and a rerun converges', async () => {
    const name = migrations.add('word_count', WORD_COUNT_MIGRATION);
    await network.sql.unsafe(`insert into site_k3.cms_posts (slug, title, body) values ('p', 'P', 'a b c d')`);
    const kills: string[] = [];
    for (let round = 0; round < 6; round++) {
      const child = start(['migrate:sites', '--concurrency', '4']);
      const done = collect(child, { timeoutMs: 60_000 });
      if (round === 0) {
        // Anywhere in start-up, lock, planning or the first sites.
        const delay = Math.floor(Math.random() * 1500);
        await new Promise((resolve) => setTimeout(resolve, delay));
        kills.push(`after ${delay} ms`);
      } else {
        const sites = 1 + Math.floor(Math.random() * 20);
        await waitForLine(child, /^\[\d+\/\d+\] migrated /, sites).catch(() => {});
        kills.push(`after ${sites} sites`);
      }
      child.kill('SIGKILL');
      await done;
      for (const site of await wordCountState(network.sql, name)) {
        expect({ ...site, kills }).toEqual({ schema: site.schema, column: site.history, index: site.history, history: site.history, kills });
      }
    }
    const rerun = await collect(start(['migrate:sites', '--json']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(json(rerun).summary).toMatchObject({ sites: SITES, failed: 0, skipped: 0 });
    const state = await wordCountState(network.sql, name);
    expect(state).toHaveLength(SITES);
    expect(state.every((site) => site.column && site.index && site.history)).toBe(true);
    expect((await network.sql`select word_count from site_k3.cms_posts`)[0].word_count).toBe(4);
    // Every site was migrated by exactly one committed transaction, whichever run it was.
    const audit = await auditCountsFor(name);
    expect(audit.size).toBe(SITES);
    expect([...audit.values()].every((n) => n === 1)).toBe(true);
    expect(await indigoAdvisoryLocks(network.sql)).toBe(0);
  });
});

describe('concurrent runners', () => {
  it('two runners started at once apply every (site, migration) exactly once and leave no lock behind', async () => {
    const name = migrations.add('two_runners', 'alter table cms_pages add column two_runners int;');
    const [first, second] = await Promise.all([collect(start(['migrate:sites', '--json'])), collect(start(['migrate:sites', '--json']))]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const migrated = [json(first), json(second)].flatMap((report) => report.sites.filter((site: { status: string }) => site.status === 'migrated').map((site: { slug: string }) => site.slug));
    expect(migrated).toHaveLength(SITES);
    expect(new Set(migrated).size).toBe(SITES);
    const audit = await auditCountsFor(name);
    expect(audit.size).toBe(SITES);
    expect([...audit.values()].every((n) => n === 1)).toBe(true);
    expect(await indigoAdvisoryLocks(network.sql)).toBe(0);
  });

  it('pg_terminate_backend on the lock holder lets a waiting runner proceed, and the first one stops', async () => {
    const name = migrations.add('terminate', 'alter table cms_posts add column terminate_test int;');
    const table = await network.sql.reserve();
    await table`begin`;
    await table`lock table site_k5.cms_posts in access share mode`;
    let released = false;
    try {
      const a = start(['migrate:sites', '--concurrency', '2', '--lock-timeout', '100ms', '--retries', '100']);
      const aDone = collect(a, { timeoutMs: 60_000 });
      await waitForLine(a, /^retrying k5 /);
      const b = start(['migrate:sites', '--concurrency', '2', '--lock-timeout', '100ms', '--retries', '100']);
      const bDone = collect(b, { timeoutMs: 60_000 });
      const [, pid] = await waitForLine(b, /^waiting for the migrate:sites lock, held by pid (\d+), application "indigo-sites migrate:sites"/);
      const [holder] = await network.sql`
        select pid from pg_locks where locktype = 'advisory' and granted and classid = ${LOCK_CLASS} and objid = ${LockKey.migrateSites}
          and database = (select oid from pg_database where datname = current_database())`;
      expect(Number(pid)).toBe(holder.pid);
      await network.sql`select pg_terminate_backend(${holder.pid})`;

      await waitForLine(b, /^\d+ sites: \d+ to migrate/);
      const aResult = await aDone;
      expect(aResult.code, aResult.stderr).toBe(5);
      expect(aResult.stdout).toMatch(/Stopped early: this run lost its database lock/);

      await table`rollback`;
      released = true;
      const bResult = await bDone;
      expect(bResult.code, bResult.stderr).toBe(0);
      expect(await exited(b)).toBe(0);
    } finally {
      if (!released) await table`rollback`;
      table.release();
    }
    const audit = await auditCountsFor(name);
    expect(audit.size).toBe(SITES);
    expect([...audit.values()].every((n) => n === 1)).toBe(true);
    expect(await indigoAdvisoryLocks(network.sql)).toBe(0);
  });
});
