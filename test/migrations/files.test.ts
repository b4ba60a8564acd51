import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../src/lib/errors.js';
import { createMigrationFile } from '../../src/lib/migrations/create.js';
import { checksumOf, loadMigrationSet, type MigrationFile } from '../../src/lib/migrations/files.js';
import { parseTimeout, resolveMigrateSitesOptions } from '../../src/lib/migrations/runner.js';
import { siteMigrationBatch } from '../../src/lib/migrations/site.js';
import { splitSqlStatements, withoutConcurrently } from '../../src/lib/migrations/statements.js';
import { copyOfPackagedMigrations, type MigrationDir } from '../support/migrations-fixtures.js';

describe('splitSqlStatements', () => {
  it('splits on top-level semicolons only', () => {
    const sql = `create table a (t text default 'x;y');
-- a comment; with a semicolon
create function f() returns int language plpgsql as $body$ begin return 1; end $body$;
/* block; /* nested; */ still comment; */ select "odd;name" from a;
select $$;$$, $1 ; select 'it''s; fine'`;
    expect(splitSqlStatements(sql)).toEqual([
      "create table a (t text default 'x;y')",
      '-- a comment; with a semicolon\ncreate function f() returns int language plpgsql as $body$ begin return 1; end $body$',
      '/* block; /* nested; */ still comment; */ select "odd;name" from a',
      'select $$;$$, $1',
      "select 'it''s; fine'",
    ]);
  });

  it('drops statements that hold only comments and whitespace', () => {
    expect(splitSqlStatements('-- indigo:no-transaction\n;\n  ;\nselect 1;\n-- trailing comment\n')).toEqual(['select 1']);
  });
});

describe('withoutConcurrently', () => {
  it.each([
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)', 'CREATE INDEX IF NOT EXISTS i ON t (a)'],
    ['create unique index concurrently i on t (a)', 'create unique index i on t (a)'],
    ['-- why\ndrop index concurrently if exists i', '-- why\ndrop index if exists i'],
    ['REINDEX (VERBOSE) INDEX CONCURRENTLY i', 'REINDEX (VERBOSE) INDEX i'],
  ])('%j → %j', (input, output) => {
    expect(withoutConcurrently(input)).toBe(output);
  });

  it('leaves other statements and the word elsewhere alone', () => {
    expect(withoutConcurrently("insert into t values ('concurrently')")).toBe("insert into t values ('concurrently')");
    expect(withoutConcurrently('refresh materialized view concurrently v')).toBe('refresh materialized view concurrently v');
  });
});

describe('site migration batch', () => {
  const concurrent: MigrationFile = {
    name: '0001_idx',
    file: '/m/0001_idx.sql',
    sql: '-- indigo:no-transaction\ncreate index concurrently if not exists cms_posts_title_idx on cms_posts (title);\n-- ends in a comment',
    checksum: checksumOf('x'),
    transactional: false,
  };

  it('inlines a no-transaction migration without CONCURRENTLY only for a new schema', () => {
    const batch = siteMigrationBatch('site_new', [concurrent], { newSchema: true });
    expect(batch).toMatch(/create index if not exists cms_posts_title_idx on cms_posts \(title\)/);
    expect(batch).not.toMatch(/concurrently/i);
    expect(() => siteMigrationBatch('site_old', [concurrent])).toThrow(ValidationError);
  });

  it('runs the guard once the search_path is set, then announces each migration before it', () => {
    const first = { ...concurrent, name: '0002_tx', transactional: true, sql: 'select 1' };
    const second = { ...first, name: '0003_tx', sql: 'select 2' };
    const batch = siteMigrationBatch('site_a', [first, second], { guard: 'guard()', announce: true });
    expect(batch).toContain(`select set_config('search_path', '"site_a", public', true), guard();`);
    expect(batch.indexOf('guard()')).toBeLessThan(batch.indexOf("raise notice 'indigo:migration site_a 0002_tx'"));
    expect(batch.indexOf("raise notice 'indigo:migration site_a 0002_tx'")).toBeLessThan(batch.indexOf('select 1'));
    expect(batch.indexOf('select 1')).toBeLessThan(batch.indexOf("raise notice 'indigo:migration site_a 0003_tx'"));
    expect(batch.match(/do \$indigo\$/g)).toHaveLength(2);
    const quiet = siteMigrationBatch('site_a', [first], { guard: 'guard()', historyTableExists: true, ownTransaction: true });
    expect(quiet).not.toMatch(/create table if not exists|do \$indigo\$|saved_search_path/);
    expect(quiet).toMatch(/^select set_config\('search_path', '"site_a", public', true\), guard\(\), set_config\('indigo.migration_started'/);
  });
});

describe('loading migrations', () => {
  let set: MigrationDir;
  afterEach(() => set?.remove());

  it.each(['begin;', 'COMMIT;', '-- note\nrollback;', 'start transaction;', 'savepoint s;'])('refuses a transactional file containing %j, naming the file', async (control) => {
    set = copyOfPackagedMigrations();
    set.add('bad', `alter table cms_posts add column x int;\n${control}\n`);
    await expect(loadMigrationSet(set.dir)).rejects.toThrow(/0001_bad\.sql contains .*one transaction/);
  });

  it('accepts transaction words inside function bodies and no-transaction files', async () => {
    set = copyOfPackagedMigrations();
    set.add('fn', 'create function f() returns void language plpgsql as $$ begin perform 1; end $$;');
    set.add('cic', '-- indigo:no-transaction\ncreate index concurrently if not exists i on cms_posts (title);');
    const loaded = await loadMigrationSet(set.dir);
    expect(loaded.migrations.map((m) => [m.name, m.transactional])).toEqual([['0000_cms', true], ['0001_fn', true], ['0002_cic', false]]);
  });
});

describe('createMigrationFile (migrate:create)', () => {
  let set: MigrationDir;
  let empty: string;
  afterEach(() => {
    set?.remove();
    if (empty) rmSync(empty, { recursive: true, force: true });
  });

  it('registers the next file in the journal and chains a snapshot as drizzle-kit --custom does', async () => {
    set = copyOfPackagedMigrations();
    const journalPath = path.join(set.dir, 'meta', '_journal.json');
    const before = JSON.parse(readFileSync(journalPath, 'utf8'));
    const created = await createMigrationFile({ dir: set.dir, name: 'add_word_count' });
    expect(created).toMatchObject({ name: '0001_add_word_count', idx: 1, file: path.join(set.dir, '0001_add_word_count.sql') });
    const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
    expect(journal.entries).toHaveLength(2);
    const entry = journal.entries[1];
    expect(entry).toMatchObject({ idx: 1, version: '7', tag: '0001_add_word_count', breakpoints: true });
    expect(entry.when).toBeGreaterThan(before.entries[0].when);
    const previous = JSON.parse(readFileSync(path.join(set.dir, 'meta', '0000_snapshot.json'), 'utf8'));
    const snapshot = JSON.parse(readFileSync(created.snapshot!, 'utf8'));
    expect(snapshot.prevId).toBe(previous.id);
    expect(snapshot.id).not.toBe(previous.id);
    expect(snapshot.tables).toEqual(previous.tables);

    const second = await createMigrationFile({ dir: set.dir, name: 'posts_title_index', noTransaction: true });
    expect(second.name).toBe('0002_posts_title_index');
    const loaded = await loadMigrationSet(set.dir);
    expect(loaded.migrations.map((m) => [m.name, m.transactional])).toEqual([['0000_cms', true], ['0001_add_word_count', true], ['0002_posts_title_index', false]]);
  });

  it('leaves drizzle-kit generate working on the folder (it finds no schema change after the hand-written file)', async () => {
    set = copyOfPackagedMigrations();
    await createMigrationFile({ dir: set.dir, name: 'hand_written' });
    // drizzle-kit prefixes "./" to --out, so it needs a path relative to the working directory.
    const result = spawnSync(process.execPath, [
      'node_modules/drizzle-kit/bin.cjs', 'generate', '--dialect', 'postgresql', '--schema', './src/lib/db/site-schema.ts', '--out', path.relative(process.cwd(), set.dir), '--name', 'cms',
    ], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/No schema changes/);
  });

  it('starts a journal in a folder that has none', async () => {
    empty = mkdtempSync(path.join(tmpdir(), 'indigo-empty-migrations-'));
    const created = await createMigrationFile({ dir: path.join(empty, 'site'), name: 'first' });
    expect(created).toMatchObject({ name: '0000_first', idx: 0, snapshot: null });
    expect((await loadMigrationSet(path.join(empty, 'site'))).migrations.map((m) => m.name)).toEqual(['0000_first']);
  });

  it.each(['Add', 'add-column', 'add column', '', '../x', 'ä'])('refuses the name %j and writes nothing', async (name) => {
    set = copyOfPackagedMigrations();
    const journal = readFileSync(path.join(set.dir, 'meta', '_journal.json'), 'utf8');
    await expect(createMigrationFile({ dir: set.dir, name })).rejects.toThrow(/invalid migration name .*lowercase letters a-z, digits and underscores/);
    expect(readFileSync(path.join(set.dir, 'meta', '_journal.json'), 'utf8')).toBe(journal);
    expect(existsSync(path.join(set.dir, 'meta', '0001_snapshot.json'))).toBe(false);
  });

  it('refuses to overwrite an existing file', async () => {
    set = copyOfPackagedMigrations();
    writeFileSync(path.join(set.dir, '0001_taken.sql'), 'select 1;');
    await expect(createMigrationFile({ dir: set.dir, name: 'taken' })).rejects.toThrow(ConflictError);
    expect(readFileSync(path.join(set.dir, '0001_taken.sql'), 'utf8')).toBe('select 1;');
  });
});

describe('migrate:sites options', () => {
  it.each([
    ['5s', 5000], ['500ms', 500], ['1.5s', 1500], ['2m', 120_000], ['0', 0], ['250', 250],
  ] as const)('parses the duration %j', (value, ms) => {
    expect(parseTimeout(value, '--lock-timeout')).toBe(ms);
  });

  it.each(['5 seconds', '-1s', 's', '1e3'])('refuses the duration %j naming the flag', (value) => {
    expect(() => parseTimeout(value, '--lock-timeout')).toThrow(/--lock-timeout must be a duration/);
  });

  it('refuses bad values naming the flag', () => {
    expect(() => resolveMigrateSitesOptions({ concurrency: 0 })).toThrow(/--concurrency must be a whole number from 1 to 64/);
    expect(() => resolveMigrateSitesOptions({ retries: -1 })).toThrow(/--retries/);
    expect(() => resolveMigrateSitesOptions({ status: 'deleted' as 'all' })).toThrow(/--status must be active or all/);
    expect(() => resolveMigrateSitesOptions({ sites: ['ok', 'Not_OK'] })).toThrow(/invalid slug "Not_OK"/);
    expect(() => resolveMigrateSitesOptions({ sites: [' ', ''] })).toThrow(/--sites names no site/);
  });

  it('defaults to a bounded concurrency, a 5 s lock timeout, 3 retries and waiting', () => {
    const resolved = resolveMigrateSitesOptions();
    expect(resolved.concurrency).toBeGreaterThanOrEqual(2);
    expect(resolved.concurrency).toBeLessThanOrEqual(8);
    expect(resolved).toMatchObject({ lockTimeoutMs: 5000, statementTimeoutMs: 0, retries: 3, wait: true, status: 'all', dryRun: false });
    expect(resolveMigrateSitesOptions({ sites: ['network', 'acme', 'acme'] }).sites).toEqual(['network', 'acme']);
  });
});
