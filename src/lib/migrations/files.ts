import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigrationIntegrityError, ValidationError } from '../errors.js';
import { splitSqlStatements } from './statements.js';

export interface MigrationFile {
  /** The journal tag, e.g. `0000_cms`; the file is `<name>.sql`. */
  name: string;
  file: string;
  /** The file's text as written (for site migrations: in the placeholder schema). */
  sql: string;
  /** sha256 of the text with line endings normalised, hex. */
  checksum: string;
  /** False when the file starts with `-- indigo:no-transaction` (e.g. CREATE INDEX CONCURRENTLY). */
  transactional: boolean;
}

export interface MigrationSet {
  dir: string;
  migrations: MigrationFile[];
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const packagedSharedMigrationsDir = path.join(packageRoot, 'migrations', 'shared');
export const packagedSiteMigrationsDir = path.join(packageRoot, 'migrations', 'site');

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const NO_TRANSACTION_MARKER = /^\s*--\s*indigo:no-transaction\b/;
/** Statements that would end or split the one transaction a site's migrations run in. */
const TRANSACTION_CONTROL = /^(?:(?:--[^\n]*\n|\s)*)(?:begin|commit|rollback|abort|end|start\s+transaction|savepoint|release|prepare\s+transaction)\b/i;

interface Journal {
  entries: { idx: number; tag: string }[];
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/**
 * Reads a migration folder in the order of drizzle-kit's `meta/_journal.json` (which
 * `migrate:create` also registers hand-written files in); without a journal, in file name order.
 */
export async function loadMigrationSet(dir: string): Promise<MigrationSet> {
  let names: string[];
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journalText = await fs.readFile(journalPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (journalText !== null) {
    const journal = JSON.parse(journalText) as Journal;
    names = [...journal.entries].sort((a, b) => a.idx - b.idx).map((entry) => entry.tag);
  } else {
    const entries = await fs.readdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new ValidationError(`migrations folder ${dir} does not exist`);
      throw error;
    });
    names = entries.filter((entry) => entry.endsWith('.sql')).sort().map((entry) => entry.slice(0, -4));
  }
  const migrations = await Promise.all(
    names.map(async (name) => {
      if (!NAME.test(name)) throw new ValidationError(`migration name ${JSON.stringify(name)} in ${dir} is not a plain file name`);
      const file = path.join(dir, `${name}.sql`);
      const text = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') throw new MigrationIntegrityError(`migration ${name} is registered in ${journalPath} but ${file} is missing`);
        throw error;
      });
      const transactional = !NO_TRANSACTION_MARKER.test(text);
      const control = transactional ? splitSqlStatements(text).find((statement) => TRANSACTION_CONTROL.test(statement)) : undefined;
      if (control) {
        throw new ValidationError(`migration ${file} contains ${JSON.stringify(control.split(/\s+/, 2).join(' '))}: the runner wraps each site's migrations in one transaction itself; mark the file "-- indigo:no-transaction" if it must run outside one`, { file });
      }
      return { name, file, sql: text, checksum: checksumOf(text), transactional };
    }),
  );
  return { dir, migrations };
}

export function siteMigrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.INDIGO_SITE_MIGRATIONS ? path.resolve(env.INDIGO_SITE_MIGRATIONS) : packagedSiteMigrationsDir;
}
