import type { Queryable, Tx } from '../db/connect.js';
import { MigrationIntegrityError, ValidationError } from '../errors.js';
import { SITE_SCHEMA_PLACEHOLDER } from '../db/site-schema-name.js';
import { loadMigrationSet, siteMigrationsDir, type MigrationFile, type MigrationSet } from './files.js';
import { splitSqlStatements, withoutConcurrently } from './statements.js';

export const SITE_HISTORY_TABLE = 'indigo_migrations';
const SCHEMA_NAME = /^site_[a-z][a-z0-9_]{0,57}$/;

export interface AppliedMigration {
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
}

export function assertSiteSchemaName(schemaName: string): void {
  if (!SCHEMA_NAME.test(schemaName)) throw new ValidationError(`${JSON.stringify(schemaName)} is not a site schema name`);
}

export function loadSiteMigrations(dir = siteMigrationsDir()): Promise<MigrationSet> {
  return loadMigrationSet(dir);
}

const placeholderSchemaStatement = new RegExp(
  `^\\s*CREATE SCHEMA (IF NOT EXISTS )?"${SITE_SCHEMA_PLACEHOLDER}";[ \\t]*(-->[ \\t]*statement-breakpoint)?[ \\t]*$`,
  'gim',
);

/**
 * The migration's SQL for one site: drizzle-kit generated it in the placeholder schema, so
 * every `"indigo_site_template"` identifier (tables, enum types, sequences, foreign-key targets)
 * becomes the site's schema. References to `"public".…` are left alone on purpose: a site table
 * may legitimately reference a shared table.
 */
export function renderSiteMigration(migration: Pick<MigrationFile, 'sql'>, schemaName: string): string {
  assertSiteSchemaName(schemaName);
  return migration.sql
    .replace(placeholderSchemaStatement, '')
    .replaceAll(`"${SITE_SCHEMA_PLACEHOLDER}"`, `"${schemaName}"`);
}

/** The site's applied migrations, oldest first; empty when it has no history table yet. */
export async function readSiteHistory(sql: Queryable, schemaName: string): Promise<AppliedMigration[]> {
  assertSiteSchemaName(schemaName);
  const [{ exists }] = await sql<{ exists: boolean }[]>`
    select to_regclass(${`"${schemaName}".${SITE_HISTORY_TABLE}`}) is not null as exists`;
  if (!exists) return [];
  return sql<AppliedMigration[]>`
    select name, checksum, applied_at as "appliedAt", duration_ms as "durationMs"
    from ${sql(schemaName)}.${sql(SITE_HISTORY_TABLE)} order by applied_at, name`;
}

/**
 * What is pending for a site, after checking its history against the files: an edited applied
 * migration, an applied migration whose file is gone, and a new file ordered before an applied one
 * are refused, naming the file.
 */
export function pendingSiteMigrations(set: MigrationSet, history: AppliedMigration[], schemaName = 'this site'): MigrationFile[] {
  const byName = new Map(set.migrations.map((migration, index) => [migration.name, { migration, index }]));
  let lastAppliedIndex = -1;
  for (const applied of history) {
    const known = byName.get(applied.name);
    if (!known) {
      throw new MigrationIntegrityError(`${schemaName} has applied migration ${applied.name}, but ${applied.name}.sql is missing from ${set.dir}`, { schema: schemaName, migration: applied.name });
    }
    if (known.migration.checksum !== applied.checksum) {
      throw new MigrationIntegrityError(`migration file ${known.migration.file} was edited after it was applied to ${schemaName} (checksum ${known.migration.checksum.slice(0, 12)} ≠ applied ${applied.checksum.slice(0, 12)}); add a new migration instead`, { schema: schemaName, migration: applied.name, file: known.migration.file });
    }
    lastAppliedIndex = Math.max(lastAppliedIndex, known.index);
  }
  const applied = new Set(history.map((row) => row.name));
  const pending = set.migrations.filter((migration) => !applied.has(migration.name));
  const misplaced = pending.find((migration) => byName.get(migration.name)!.index < lastAppliedIndex);
  if (misplaced) {
    throw new MigrationIntegrityError(`migration ${misplaced.file} is ordered before migrations already applied to ${schemaName}; give it a later position`, { schema: schemaName, migration: misplaced.name, file: misplaced.file });
  }
  return pending;
}

export function historyTableDdl(schemaName: string): string {
  assertSiteSchemaName(schemaName);
  return `create table if not exists "${schemaName}".${SITE_HISTORY_TABLE} (
  name text primary key,
  checksum text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer not null
);`;
}

export interface SiteMigrationBatchOptions {
  /**
   * A SQL expression evaluated before the first migration, once the history table exists and the
   * search_path is the site's, that fails to abort the batch (see sqlChecks). It shares a statement
   * with the search_path setting: every statement of a batch costs the server a parse and a plan.
   */
  guard?: string;
  /**
   * Raise a NOTICE `indigo:migration <schema> <name>` as each migration starts: notices reach the
   * client even when the transaction then fails, so the caller can name the migration that failed.
   * It costs a DO block per migration; a caller sending one migration knows its name already.
   */
  announce?: boolean;
  /**
   * The schema was created in this same transaction: migrations marked no-transaction run inside
   * the batch with CONCURRENTLY removed (see withoutConcurrently). Refused otherwise.
   */
  newSchema?: boolean;
  /** The caller knows the history table exists (the site has history): skip its CREATE … IF NOT EXISTS. */
  historyTableExists?: boolean;
  /**
   * The batch is a transaction of its own (sent as one multi-statement query outside any BEGIN):
   * its local settings end with it, so the search_path needs no saving and restoring.
   */
  ownTransaction?: boolean;
}

export const MIGRATION_NOTICE_PREFIX = 'indigo:migration ';

const MIGRATION_STARTED = `set_config('indigo.migration_started', clock_timestamp()::text, true)`;

/**
 * One simple-protocol batch that applies the given migrations to a site schema and records each
 * with its server-measured duration: a site costs one round trip however many statements its
 * migrations hold. Names and checksums are validated by the loader and the schema name by
 * assertSiteSchemaName, so the literals below cannot break out.
 */
export function siteMigrationBatch(schemaName: string, migrations: MigrationFile[], options: SiteMigrationBatchOptions = {}): string {
  assertSiteSchemaName(schemaName);
  // Hand-written migrations name objects unqualified: they must land in the site schema. The
  // caller's search_path is restored afterwards when the batch runs inside the caller's transaction.
  const parts = [
    ...(options.historyTableExists ? [] : [historyTableDdl(schemaName)]),
    ...(options.ownTransaction ? [] : [`select set_config('indigo.saved_search_path', current_setting('search_path'), true);`]),
  ];
  // Evaluated left to right in one select: the search_path, the guard, the first migration's start.
  const setup = [`set_config('search_path', '"${schemaName}", public', true)`, ...(options.guard ? [options.guard] : [])];
  const select = (expressions: string[]) => `select ${expressions.join(', ')};`;
  for (const migration of migrations) {
    if (!migration.transactional && !options.newSchema) throw new ValidationError(`migration ${migration.name} runs outside a transaction and cannot be batched`);
    if (options.announce) {
      if (setup.length > 0) parts.push(select(setup.splice(0)));
      parts.push(`do $indigo$ begin perform ${MIGRATION_STARTED}; raise notice '${MIGRATION_NOTICE_PREFIX}${schemaName} ${migration.name}'; end $indigo$;`);
    } else {
      parts.push(select([...setup.splice(0), MIGRATION_STARTED]));
    }
    const rendered = renderSiteMigration(migration, schemaName);
    parts.push(
      migration.transactional ? rendered : splitSqlStatements(rendered).map(withoutConcurrently).join('\n;\n'),
      // The newline ends a trailing `-- comment` in the file before the semicolon.
      `\n;\n${historyInsert(schemaName, migration, `round(extract(epoch from clock_timestamp() - current_setting('indigo.migration_started')::timestamptz) * 1000)::int`)}`,
    );
  }
  if (setup.length > 0) parts.push(select(setup));
  if (!options.ownTransaction) parts.push(`select set_config('search_path', current_setting('indigo.saved_search_path'), true);`);
  return parts.join('\n');
}

/** The history row of one migration; `durationSql` is a SQL expression, never user input. */
export function historyInsert(schemaName: string, migration: Pick<MigrationFile, 'name' | 'checksum'>, durationSql: string): string {
  assertSiteSchemaName(schemaName);
  return `insert into "${schemaName}".${SITE_HISTORY_TABLE} (name, checksum, duration_ms) values ('${migration.name}', '${migration.checksum}', ${durationSql});`;
}

export interface ApplySiteMigrationsOptions {
  /** The site's history when the caller already read it (skips one round trip). */
  history?: AppliedMigration[];
}

/**
 * Applies every pending migration of `set` to one site schema inside the caller's transaction,
 * with its history rows. Returns what it applied.
 */
export async function applySiteMigrations(tx: Tx, schemaName: string, set: MigrationSet, options: ApplySiteMigrationsOptions = {}): Promise<MigrationFile[]> {
  const history = options.history ?? (await readSiteHistory(tx, schemaName));
  const pending = pendingSiteMigrations(set, history, schemaName);
  // A schema without history is being set up from nothing in the caller's transaction (site:create):
  // its tables are new and empty, so no-transaction migrations can run inside it.
  const newSchema = history.length === 0;
  const outside = pending.find((migration) => !migration.transactional);
  if (outside && !newSchema) {
    throw new ValidationError(`migration ${outside.name} must run outside a transaction on an existing site: apply it with migrateSites (indigo-sites migrate:sites)`, { migration: outside.name });
  }
  await tx.unsafe(siteMigrationBatch(schemaName, pending, { newSchema }));
  return pending;
}
