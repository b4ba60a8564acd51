import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConflictError, ValidationError } from '../errors.js';

export interface CreateMigrationInput {
  /** Folder of the migration set (its `meta/_journal.json` is created when missing). */
  dir: string;
  /** Lowercase letters, digits and underscores: the file becomes `<idx>_<name>.sql`. */
  name: string;
  /** Write the `-- indigo:no-transaction` marker (for CREATE INDEX CONCURRENTLY and the like). */
  noTransaction?: boolean;
}

export interface CreateMigrationResult {
  /** The journal tag, e.g. `0003_add_word_count`. */
  name: string;
  file: string;
  idx: number;
  journal: string;
  /** The drizzle-kit snapshot written next to it, when the folder has snapshots. */
  snapshot: string | null;
}

interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}

interface Journal {
  version: string;
  dialect: string;
  entries: JournalEntry[];
}

const MIGRATION_NAME = /^[a-z0-9_]+$/;
const MAX_NAME_LENGTH = 100;

export function validateMigrationName(name: string): string {
  if (!MIGRATION_NAME.test(name)) throw new ValidationError(`invalid migration name ${JSON.stringify(name)}: use only lowercase letters a-z, digits and underscores`);
  if (name.length > MAX_NAME_LENGTH) throw new ValidationError(`invalid migration name: longer than ${MAX_NAME_LENGTH} characters`);
  return name;
}

function template(noTransaction: boolean): string {
  const lines = [
    ...(noTransaction
      ? [
          '-- indigo:no-transaction',
          '-- Runs outside a transaction, one statement at a time, and again from the top if a run is',
          '-- interrupted: make every statement idempotent (CREATE INDEX CONCURRENTLY IF NOT EXISTS …)',
          '-- and name your indexes, so an index left invalid by an interrupted build can be rebuilt.',
        ]
      : [
          '-- Runs in each site schema, in one transaction with the site\'s other pending migrations.',
        ]),
    '-- Unqualified names resolve to the site\'s schema (search_path = site, public).',
    '-- Once applied anywhere, this file must not change: add a new migration instead.',
    '',
  ];
  return lines.join('\n');
}

/**
 * Adds an empty hand-written migration to a migration folder and registers it in drizzle-kit's
 * journal exactly as `drizzle-kit generate --custom` does (next idx, zero-padded prefix, a `when`
 * later than every other, a copy of the latest snapshot chained to it), so the runner orders it
 * and later `drizzle-kit generate` runs keep numbering after it.
 */
export async function createMigrationFile(input: CreateMigrationInput): Promise<CreateMigrationResult> {
  const name = validateMigrationName(input.name);
  const dir = path.resolve(input.dir);
  const meta = path.join(dir, 'meta');
  const journalPath = path.join(meta, '_journal.json');
  await fs.mkdir(meta, { recursive: true });
  const journalText = await fs.readFile(journalPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  let journal: Journal;
  try {
    journal = journalText === null ? { version: '7', dialect: 'postgresql', entries: [] } : (JSON.parse(journalText) as Journal);
  } catch (error) {
    throw new ValidationError(`${journalPath} is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(journal.entries)) throw new ValidationError(`${journalPath} has no "entries" list`);
  const last = journal.entries.at(-1);
  const idx = last ? last.idx + 1 : 0;
  const prefix = String(idx).padStart(4, '0');
  const tag = `${prefix}_${name}`;
  const file = path.join(dir, `${tag}.sql`);
  const snapshot = await chainSnapshot(meta, prefix);
  try {
    await fs.writeFile(file, template(input.noTransaction ?? false), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ConflictError(`${file} already exists`, { file });
    throw error;
  }
  if (snapshot) await fs.writeFile(snapshot.path, snapshot.text);
  // drizzle-kit's migrator skips an entry whose `when` is not later than the previous one.
  const when = Math.max(Date.now(), ...journal.entries.map((entry) => entry.when + 1));
  journal.entries.push({ idx, version: last?.version ?? journal.version ?? '7', when, tag, breakpoints: true });
  const temporary = `${journalPath}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(journal, null, 2)}\n`);
  await fs.rename(temporary, journalPath);
  return { name: tag, file, idx, journal: journalPath, snapshot: snapshot?.path ?? null };
}

/** The latest snapshot copied under the new prefix with a fresh id whose prevId is the latest's. */
async function chainSnapshot(meta: string, prefix: string): Promise<{ path: string; text: string } | null> {
  const snapshots = (await fs.readdir(meta)).filter((entry) => entry.endsWith('_snapshot.json')).sort();
  const latest = snapshots.at(-1);
  if (!latest) return null;
  const previous = JSON.parse(await fs.readFile(path.join(meta, latest), 'utf8')) as { id: string; prevId: string } & Record<string, unknown>;
  const { id: previousId, prevId: _ignored, ...rest } = previous;
  return { path: path.join(meta, `${prefix}_snapshot.json`), text: JSON.stringify({ id: randomUUID(), prevId: previousId, ...rest }, null, 2) };
}
