import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import type { IndigoContext } from '../../src/lib/context.js';
import { LOCK_CLASS, LOCK_CLASS_SITE } from '../../src/lib/db/locks.js';
import { packagedSiteMigrationsDir } from '../../src/lib/migrations/files.js';
import { createSite } from '../../src/lib/sites/sites.js';

/** The benchmark's and the kill tests' migration: a column, an index on it and an update of every row. */
export const WORD_COUNT_MIGRATION = `alter table cms_posts add column word_count integer not null default 0;
create index cms_posts_word_count_idx on cms_posts (word_count);
update cms_posts set word_count = coalesce(array_length(regexp_split_to_array(body, '\\s+'), 1), 0);
`;

export interface MigrationDir {
  dir: string;
  /** Appends a migration registered in the journal, as migrate:create would; returns its name. */
  add(suffix: string, sql: string): string;
  /** Rewrites an existing migration file (to test edited-after-applied refusals). */
  edit(name: string, sql: string): void;
  remove(): void;
}

/** A temporary copy of the packaged site migrations that a test can extend. */
export function copyOfPackagedMigrations(): MigrationDir {
  const dir = mkdtempSync(path.join(tmpdir(), 'indigo-site-migrations-'));
  cpSync(packagedSiteMigrationsDir, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  return {
    dir,
    add(suffix, sql) {
      const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { idx: number; when: number; tag: string }[] };
      const last = journal.entries.at(-1)!;
      const idx = last.idx + 1;
      const tag = `${String(idx).padStart(4, '0')}_${suffix}`;
      writeFileSync(path.join(dir, `${tag}.sql`), sql);
      journal.entries.push({ idx, version: '7', when: last.when + 1, tag, breakpoints: true } as (typeof journal.entries)[number]);
      writeFileSync(journalPath, JSON.stringify(journal, null, 2));
      return tag;
    },
    edit(name, sql) {
      writeFileSync(path.join(dir, `${name}.sql`), sql);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates `count` sites `<prefix>0 … <prefix>N-1` through createSite, four at a time. */
export async function createSites(ctx: IndigoContext, prefix: string, count: number): Promise<string[]> {
  const slugs = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < slugs.length) await createSite(ctx, { slug: slugs[next++] });
  }));
  return slugs;
}

export interface WordCountState {
  schema: string;
  column: boolean;
  index: boolean;
  history: boolean;
}

/**
 * For every site schema: whether the word_count column, its index and the history row of
 * `migration` exist, read in ONE statement so that all three come from the same snapshot even
 * while a killed runner's last transaction is still committing.
 */
export async function wordCountState(sql: postgres.Sql, migration: string): Promise<WordCountState[]> {
  const schemas = (await sql<{ nspname: string }[]>`select nspname from pg_namespace where nspname like 'site\\_%' order by 1`).map((row) => row.nspname);
  // Test-only text built from catalog names matching site_[a-z0-9_]+ and a fixed migration name.
  const parts = schemas.map((schema) => `select '${schema}' as schema,
    exists (select 1 from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = '${schema}' and c.relname = 'cms_posts' and a.attname = 'word_count' and not a.attisdropped) as column,
    exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = '${schema}' and c.relname = 'cms_posts_word_count_idx' and c.relkind = 'i') as index,
    exists (select 1 from "${schema}".indigo_migrations where name = '${migration}') as history`);
  return [...(await sql.unsafe<WordCountState[]>(parts.join('\nunion all\n')))];
}

/** Advisory locks of indigo-sites (both classes) still held in this database. */
export async function indigoAdvisoryLocks(sql: postgres.Sql): Promise<number> {
  const [{ count }] = await sql<{ count: number }[]>`
    select count(*)::int as count from pg_locks
    where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())
      and classid in (${LOCK_CLASS}, ${LOCK_CLASS_SITE})`;
  return count;
}
