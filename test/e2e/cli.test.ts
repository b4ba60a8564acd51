import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagedSiteMigrationsDir } from '../../src/lib/migrations/files.js';
import { collect, json, runCli, startCli } from '../support/cli.js';
import { catalogSnapshot } from '../support/catalog.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let uninitialised: TestDatabase;
const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli([...args, '--database-url', db.url], { env });

const snapshot = () => catalogSnapshot(db.sql);

beforeAll(async () => {
  db = await createTestDatabase();
  uninitialised = await createTestDatabase();
  const init = await cli(['init', '--admin-email', 'ops@example.com', '--json']);
  expect(init.code, init.stderr).toBe(0);
  expect(json(init)).toMatchObject({ changed: true, networkAdminSite: { slug: 'network', created: true } });
});
afterAll(async () => {
  await db?.drop();
  await uninitialised?.drop();
});

describe('indigo-sites CLI', () => {
  it('init a second time reports no change', async () => {
    const again = await cli(['init', '--admin-email', 'ops@example.com', '--json']);
    expect(again.code).toBe(0);
    expect(json(again)).toMatchObject({ changed: false, sharedMigrationsApplied: [] });
  });

  it('site:create prints the site as JSON and nothing else on stdout', async () => {
    const result = await cli(['site:create', 'acme', '--name', 'Acme Inc', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const body = json(result);
    expect(body.site).toMatchObject({ slug: 'acme', name: 'Acme Inc', schemaName: 'site_acme', status: 'active' });
    expect(body.migrationsApplied).toEqual(['0000_cms']);
  });

  it('site:create in human mode prints the record', async () => {
    const result = await cli(['site:create', 'beta']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Created site beta/);
    expect(result.stdout).toMatch(/schema\s+site_beta/);
  });

  it('site:create with an existing slug exits 4 with a JSON error', async () => {
    const result = await cli(['site:create', 'acme', '--json']);
    expect(result.code).toBe(4);
    expect(json(result).error).toMatchObject({ code: 'CONFLICT', exitCode: 4, message: 'site "acme" already exists' });
  });

  it.each(['', 'A', '1abc', 'a_b', '-a', 'a-', 'a--b', 'public', 'www', 'admin', 'api', 'information_schema', 'a";drop schema public cascade;--', '\u{1F680}', 'a'.repeat(59)])(
    'site:create %j exits 2 naming the rule and creates nothing',
    async (slug) => {
      const before = await snapshot();
      const result = await runCli(['site:create', '--database-url', db.url, '--', slug]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/Error: invalid slug .*: (the slug|".*" is reserved)/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(await snapshot()).toEqual(before);
    },
  );

  it('site:create without a slug and without a TTY is a usage error naming the argument', async () => {
    const result = await cli(['site:create']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing argument SLUG/);
  });

  it('site:list prints a table, and --json an array', async () => {
    const table = await cli(['site:list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/acme\s+\|\s+Acme Inc/);
    const list = json(await cli(['site:list', '--json']));
    expect(list.map((s: { slug: string }) => s.slug)).toEqual(['acme', 'beta', 'network']);
    expect(json(await cli(['site:list', '--status', 'deleted', '--json']))).toEqual([]);
    const bad = await cli(['site:list', '--status', 'gone']);
    expect(bad.code).toBe(2);
  });

  it('site:show shows domains and member counts; a missing site exits 3', async () => {
    const shown = json(await cli(['site:show', 'acme', '--json']));
    expect(shown).toMatchObject({ slug: 'acme', schemaName: 'site_acme', domains: [], members: { total: 0 } });
    const missing = await cli(['site:show', 'nope', '--json']);
    expect(missing.code).toBe(3);
    expect(json(missing).error.code).toBe('NOT_FOUND');
  });

  it('takes any flag from an INDIGO_* variable, but never a confirmation', async () => {
    const created = await cli(['site:create', 'from-env', '--json'], { INDIGO_NAME: 'Named By Env' });
    expect(created.code, created.stderr).toBe(0);
    expect(json(created).site.name).toBe('Named By Env');
    expect(json(await cli(['site:list', '--json'], { INDIGO_STATUS: 'deleted' }))).toEqual([]);
    const refused = await cli(['site:delete', 'from-env', '--hard', '--force'], { INDIGO_CONFIRM: 'from-env' });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/needs its slug typed again/);
  });

  it('site:update changes name and settings', async () => {
    const result = await cli(['site:update', 'acme', '--name', 'Acme 2', '--setting', 'theme=dark', '--setting', 'perPage=10', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).site).toMatchObject({ name: 'Acme 2', settings: { theme: 'dark', perPage: 10 } });
    const bad = await cli(['site:update', 'acme', '--setting', 'no-equals-sign']);
    expect(bad.code).toBe(2);
    const nothing = await cli(['site:update', 'acme']);
    expect(nothing.code).toBe(2);
  });

  it('every command on an uninitialised DATABASE_URL exits 4 telling to run init', async () => {
    for (const args of [['site:list'], ['site:create', 'x'], ['site:show', 'x']]) {
      const result = await runCli([...args, '--database-url', uninitialised.url]);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/is not initialised: run indigo-sites init/);
    }
    const tables = await uninitialised.sql`select count(*)::int as n from pg_tables where schemaname = 'public'`;
    expect(tables[0].n).toBe(0);
  });

  it.each([
    ['wrong port', () => 'postgres://postgres@127.0.0.1:1/postgres', /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/postgres: connection refused/],
    ['wrong password', () => withCredentials(db.url, 'no_such_role', 'wrong'), /cannot connect to PostgreSQL at .*: (password authentication failed|.*role "no_such_role" does not exist)/],
    ['missing database', () => withDatabaseName(db.url, 'indigo_no_such_db'), /cannot connect to PostgreSQL at .*\/indigo_no_such_db: database "indigo_no_such_db" does not exist/],
  ])('a misconfigured database (%s) gives one clear line and exit 1', async (_case, url, message) => {
    const result = await runCli(['site:list', '--database-url', url()]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    const debug = await runCli(['site:list', '--database-url', url(), '--debug']);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('ten processes creating the same slug: exactly one succeeds, the others exit 4, one schema', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => cli(['site:create', 'race', '--json'])));
    const codes = results.map((r) => r.code).sort();
    expect(codes, results.map((r) => r.stderr).join('\n')).toEqual([0, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    const schemas = await db.sql`select nspname from pg_namespace where nspname = 'site_race'`;
    expect(schemas).toHaveLength(1);
    const rows = await db.sql`select count(*)::int as n from sites where slug = 'race'`;
    expect(rows[0].n).toBe(1);
  });

  it('a process killed while a migration runs leaves no row and no schema', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'indigo-slow-'));
    try {
      cpSync(packagedSiteMigrationsDir, dir, { recursive: true });
      writeFileSync(path.join(dir, '0001_slow.sql'), 'create table cms_slow (id bigint primary key);\nselect pg_sleep(30);\n');
      const journalPath = path.join(dir, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
      journal.entries.push({ idx: 1, version: '7', when: Date.now(), tag: '0001_slow', breakpoints: true });
      writeFileSync(journalPath, JSON.stringify(journal));

      const child = startCli(['site:create', 'killed', '--database-url', db.url], { env: { INDIGO_SITE_MIGRATIONS: dir } });
      const done = collect(child);
      const database = new URL(db.url).pathname.slice(1);
      const sleeping = async () =>
        (await db.sql`select 1 from pg_stat_activity where datname = ${database} and application_name = 'indigo-sites' and state = 'active' and wait_event = 'PgSleep'`).length > 0;
      await waitFor(sleeping);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      // The server notices the dead client (client_connection_check_interval) and rolls back.
      await waitFor(async () => !(await sleeping()));
      expect(await db.sql`select 1 from sites where slug = 'killed'`).toHaveLength(0);
      expect(await db.sql`select 1 from pg_namespace where nspname = 'site_killed'`).toHaveLength(0);
      expect(await db.sql`select 1 from audit_log where site_slug = 'killed'`).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}
