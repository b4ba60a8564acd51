import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_CLASS, LockKey } from '../../src/lib/db/locks.js';
import { json, runCli } from '../support/cli.js';
import { atTerminal } from '../support/terminal.js';
import { copyOfPackagedMigrations, createSites, WORD_COUNT_MIGRATION, wordCountState, type MigrationDir } from '../support/migrations-fixtures.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

let network: TestNetwork;
let migrations: MigrationDir;
let wordCount: string;

const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
  runCli([...args, '--database-url', network.url], { env: { INDIGO_SITE_MIGRATIONS: migrations.dir, ...env }, timeoutMs: 120_000 });
const ANSI = /\u001b\[/;

beforeAll(async () => {
  migrations = copyOfPackagedMigrations();
  network = await createTestNetwork({ siteMigrationsDir: migrations.dir });
  await createSites(network.ctx, 's', 200);
  wordCount = migrations.add('word_count', WORD_COUNT_MIGRATION);
});

afterAll(async () => {
  await network?.drop();
  migrations?.remove();
});

describe('indigo-sites migrate:sites', () => {
  it('refuses bad flags with exit 2 before touching the database', async () => {
    for (const args of [['--concurrency', '0'], ['--lock-timeout', 'soon']]) {
      const result = await cli(['migrate:sites', ...args]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
    }
    expect((await wordCountState(network.sql, wordCount)).some((site) => site.history)).toBe(false);
  });

  it('--dry-run prints the migrations each site would run and changes nothing', async () => {
    const result = await cli(['migrate:sites', '--dry-run', '--sites', 's1,s2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`s1 (site_s1): ${wordCount}`);
    expect(result.stdout).toMatch(/Dry run: 2 of 2 sites would be migrated, 0 up to date; nothing was changed/);
    expect((await wordCountState(network.sql, wordCount)).some((site) => site.column || site.history)).toBe(false);
  });

  it('migrates 200 sites past one conflicting site: exit 5, every outcome reported; a rerun runs only that site', async () => {
    await network.sql.unsafe('create table site_s57.cms_posts_word_count_idx (conflict int)');
    const result = await cli(['migrate:sites', '--concurrency', '4', '--json']);
    expect(result.code, result.stderr).toBe(5);
    const report = json(result);
    expect(report.summary).toEqual({ sites: 201, migrated: 200, upToDate: 0, pending: 0, failed: 1, skipped: 0 });
    expect(report.sites).toHaveLength(201);
    const failed = report.sites.filter((site: { status: string }) => site.status === 'failed');
    expect(failed).toEqual([expect.objectContaining({
      slug: 's57',
      applied: [],
      pending: [wordCount],
      error: expect.objectContaining({ code: '42P07', migration: wordCount, message: 'relation "cms_posts_word_count_idx" already exists' }),
    })]);
    expect(result.stderr).toBe('');
    const state = await wordCountState(network.sql, wordCount);
    expect(state.filter((site) => site.history).length).toBe(200);
    expect(state.find((site) => site.schema === 'site_s57')).toEqual({ schema: 'site_s57', column: false, index: false, history: false });

    await network.sql.unsafe('drop table site_s57.cms_posts_word_count_idx');
    const rerun = await cli(['migrate:sites', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const second = json(rerun);
    expect(second.summary).toMatchObject({ migrated: 1, upToDate: 200, failed: 0 });
    expect(second.sites.filter((site: { status: string }) => site.status === 'migrated').map((site: { slug: string }) => site.slug)).toEqual(['s57']);
  });

  it('without a TTY prints one plain line per finished site and a summary, without ANSI codes', async () => {
    const name = migrations.add('plain_lines', 'alter table cms_pages add column plain_lines_test int;');
    const result = await cli(['migrate:sites', '--sites', 's1,s2,s3'], { NO_COLOR: undefined });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe('3 sites: 3 to migrate, 0 up to date');
    expect(lines.filter((line) => line.includes(`migrated s`) && line.includes(name))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^done: 3\/3 sites · 0 failed · 0 in flight · [\d.]+ sites\/s$/);
    expect(result.stdout).toMatch(/^3 migrated, 0 up to date, 0 failed, 0 skipped — 3 sites in [\d.]+ s/);
    expect(result.stderr + result.stdout).not.toMatch(ANSI);
  });

  it('on a terminal shows one overall bar and the sites in flight, not a line per site', async () => {
    migrations.add('terminal_bar', 'alter table cms_pages add column terminal_bar int;\nselect pg_sleep(0.05);');
    const { code, screen } = await atTerminal(['migrate:sites', '--sites', 's1,s2,s3,s4,s5,s6', '--concurrency', '2', '--database-url', network.url], [], { INDIGO_SITE_MIGRATIONS: migrations.dir });
    expect(code, screen).toBe(0);
    expect(screen).toMatch(/Migrating sites [█░]{24} \d\/6 sites · 0 failed · \d in flight/);
    expect(screen).toMatch(/in flight: s\d+ \(\d{4}_terminal_bar\)/);
    expect(screen).toMatch(/Migrated sites █{24} 6\/6 sites · 0 failed · 0 in flight/);
    expect(screen).toMatch(/6 migrated, 0 up to date, 0 failed, 0 skipped/);
    expect(screen).not.toMatch(/\[\d\/6\] migrated/);
  });

  it('refuses an edited applied migration with exit 4 naming the file, before any change', async () => {
    const original = readFileSync(`${migrations.dir}/${wordCount}.sql`, 'utf8');
    const later = migrations.add('after_edit', 'create table cms_after_edit (id int);');
    migrations.edit(wordCount, `${original}-- edited\n`);
    try {
      const result = await cli(['migrate:sites', '--json']);
      expect(result.code).toBe(4);
      const { error } = json(result);
      expect(error.code).toBe('MIGRATION_INTEGRITY');
      expect(error.message).toContain(`${migrations.dir}/${wordCount}.sql was edited after it was applied`);
      expect(error.details.problems).toHaveLength(201);
      expect(await network.sql`select count(*)::int as n from pg_class where relname = 'cms_after_edit'`).toEqual([{ n: 0 }]);
    } finally {
      migrations.edit(wordCount, original);
    }
    const result = await cli(['migrate:sites', '--json']);
    expect(json(result).summary.migrated).toBe(201);
    expect(later).toMatch(/after_edit$/);
  });

  it('--no-wait exits 4 at once naming the session that holds the lock', async () => {
    const holder = await network.sql.reserve();
    try {
      await holder`set application_name = 'deploy-job-42'`;
      await holder`select pg_advisory_lock(${LOCK_CLASS}, ${LockKey.migrateSites})`;
      const [{ pid }] = await holder`select pg_backend_pid() as pid`;
      const result = await cli(['migrate:sites', '--no-wait']);
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(new RegExp(`another migrate:sites is running on this database \\(pid ${pid}, application "deploy-job-42", user \\w+, client 127\\.0\\.0\\.1, connected since \\d{4}-`));
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
    }
  });
});

let statusCheck: string;

describe('indigo-sites migrate:status', () => {
  it('prints a table and a summary; --pending --json lists only sites behind', async () => {
    const name = statusCheck = migrations.add('status_check', 'alter table cms_menus add column status_check int;');
    await cli(['migrate:sites', '--sites', 's3', '--json']);
    const table = await cli(['migrate:status', '--sites', 's3,s4']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\| s3 +\| site_s3 +\| up-to-date \|/);
    expect(table.stdout).toMatch(new RegExp(`\\| s4 +\\| site_s4 +\\| behind +\\| \\d+ +\\| \\S+ +\\| ${name} +\\|`));
    expect(table.stdout).toMatch(/1 site up to date, 1 behind/);

    const pending = await cli(['migrate:status', '--pending', '--json']);
    expect(pending.code).toBe(0);
    const report = json(pending);
    expect(report.summary).toEqual({ sites: 201, upToDate: 1, behind: 200, invalid: 0 });
    expect(report.sites).toHaveLength(200);
    expect(report.sites[0]).toMatchObject({ state: 'behind', pending: [name] });
  });
});

describe('indigo-sites migrate:create', () => {
  it('adds a registered file, prints its path, and migrate:sites applies it', async () => {
    const created = await cli(['migrate:create', 'add_reading_time', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { file, name } = json(created);
    expect(name).toMatch(/^\d{4}_add_reading_time$/);
    expect(existsSync(file)).toBe(true);
    const journal = JSON.parse(readFileSync(`${migrations.dir}/meta/_journal.json`, 'utf8'));
    expect(journal.entries.at(-1)).toMatchObject({ tag: name });

    const human = await cli(['migrate:create', 'second_one']);
    expect(human.stdout.trim()).toMatch(new RegExp(`^${migrations.dir}/\\d{4}_second_one\\.sql$`));

    const run = await cli(['migrate:sites', '--sites', 's9', '--json']);
    expect(json(run).sites[0].applied).toEqual([statusCheck, name, expect.stringMatching(/second_one$/)]);
  });

  it('refuses a name that is not [a-z0-9_]+ with exit 2', async () => {
    const result = await cli(['migrate:create', 'Add-Column']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid migration name "Add-Column": use only lowercase letters a-z, digits and underscores/);
  });
});
