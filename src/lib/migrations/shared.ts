import type { Queryable, Sql } from '../db/connect.js';
import { LOCK_CLASS, LockKey } from '../db/locks.js';
import { MigrationIntegrityError } from '../errors.js';
import { loadMigrationSet, packagedSharedMigrationsDir, type MigrationFile, type MigrationSet } from './files.js';

export const SHARED_HISTORY_TABLE = 'indigo_shared_migrations';

export interface SharedMigrationStatus {
  initialised: boolean;
  applied: string[];
  pending: string[];
}

export function loadSharedMigrations(dir = packagedSharedMigrationsDir): Promise<MigrationSet> {
  return loadMigrationSet(dir);
}

/** The applied network migrations; null when the history table does not exist (every command asks, so one query). */
async function appliedShared(sql: Queryable): Promise<{ name: string; checksum: string }[] | null> {
  try {
    return await sql<{ name: string; checksum: string }[]>`select name, checksum from public.${sql(SHARED_HISTORY_TABLE)} order by name`;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return null;
    throw error;
  }
}

function pendingShared(set: MigrationSet, applied: { name: string; checksum: string }[]): MigrationFile[] {
  const files = new Map(set.migrations.map((migration) => [migration.name, migration]));
  for (const row of applied) {
    const file = files.get(row.name);
    // A newer indigo-sites may have applied migrations this one does not know: leave them be.
    if (file && file.checksum !== row.checksum) {
      throw new MigrationIntegrityError(`network migration file ${file.file} was edited after it was applied`, { migration: row.name, file: file.file });
    }
  }
  const done = new Set(applied.map((row) => row.name));
  return set.migrations.filter((migration) => !done.has(migration.name));
}

export async function sharedMigrationStatus(sql: Queryable, set?: MigrationSet): Promise<SharedMigrationStatus> {
  const migrations = set ?? (await loadSharedMigrations());
  const applied = await appliedShared(sql);
  if (applied === null) return { initialised: false, applied: [], pending: migrations.migrations.map((m) => m.name) };
  const pending = pendingShared(migrations, applied).map((m) => m.name);
  return { initialised: pending.length === 0, applied: applied.map((row) => row.name), pending };
}

/**
 * Applies pending network migrations in one transaction under an advisory lock, so two
 * `init`s at once apply each migration exactly once. Returns the names it applied.
 */
export async function applySharedMigrations(sql: Sql, set?: MigrationSet): Promise<string[]> {
  const migrations = set ?? (await loadSharedMigrations());
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_CLASS}, ${LockKey.sharedMigrations})`;
    await tx.unsafe(`create table if not exists public.${SHARED_HISTORY_TABLE} (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const pending = pendingShared(migrations, (await appliedShared(tx)) ?? []);
    for (const migration of pending) {
      await tx.unsafe(migration.sql);
      await tx`insert into public.${tx(SHARED_HISTORY_TABLE)} (name, checksum) values (${migration.name}, ${migration.checksum})`;
    }
    return pending.map((migration) => migration.name);
  });
}
