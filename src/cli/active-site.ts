/**
 * The operator's active site: `site:use SLUG` stores it in oclif's config directory
 * (~/.config/indigo-sites/active-site.json, or $INDIGO_SITES_CONFIG_DIR), one per database, so an
 * active site chosen on staging is never used against production. Commands that take `--site`
 * default to it through `siteFlag` and `resolveSiteFlag`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { checkActiveSite, type ActiveSiteRef } from '../lib/actor.js';
import type { Actor } from '../lib/context.js';
import { describeTarget, type Queryable } from '../lib/db/connect.js';
import { defaultDataDir } from '../lib/db/embedded.js';
import { ConflictError, ValidationError } from '../lib/errors.js';
import { err as errColors } from './output.js';

export const ACTIVE_SITE_FILE = 'active-site.json';

export interface StoredActiveSite extends ActiveSiteRef {
  setAt: string;
}

interface ActiveSiteFile {
  version: 1;
  /** Keyed by `databaseKey()`. */
  databases: Record<string, StoredActiveSite>;
}

/** The database flags every command has (IndigoCommand's base flags). */
export interface DatabaseFlags {
  'database-url'?: string;
  'data-dir'?: string;
}

/** Which database the active site belongs to: host:port/database, or the embedded data folder. */
export function databaseKey(flags: DatabaseFlags): string {
  if (flags['database-url']) return describeTarget(flags['database-url']);
  return `embedded:${path.resolve(flags['data-dir'] || defaultDataDir())}`;
}

export function activeSitePath(configDir: string): string {
  return path.join(configDir, ACTIVE_SITE_FILE);
}

async function readFile(configDir: string): Promise<ActiveSiteFile> {
  const file = activeSitePath(configDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, databases: {} };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as ActiveSiteFile;
    if (parsed?.version !== 1 || typeof parsed.databases !== 'object' || parsed.databases === null) throw new Error('unknown format');
    return parsed;
  } catch (error) {
    throw new ConflictError(`cannot read the active site from ${file} (${(error as Error).message}): run site:use SLUG or site:use --clear to rewrite it`, { file });
  }
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
async function writeFile(configDir: string, content: ActiveSiteFile): Promise<void> {
  await fs.mkdir(configDir, { recursive: true });
  const file = activeSitePath(configDir);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
}

/** An unreadable file is replaced (saying so): choosing or forgetting a site is how to repair it. */
async function readFileForRewrite(configDir: string): Promise<ActiveSiteFile> {
  try {
    return await readFile(configDir);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    process.stderr.write(`${errColors.yellow(`warning: replacing the unreadable ${activeSitePath(configDir)}`)}\n`);
    return { version: 1, databases: {} };
  }
}

export async function readActiveSite(configDir: string, database: string): Promise<StoredActiveSite | null> {
  return (await readFile(configDir)).databases[database] ?? null;
}

export async function storeActiveSite(configDir: string, database: string, site: ActiveSiteRef): Promise<StoredActiveSite> {
  const content = await readFileForRewrite(configDir);
  const stored: StoredActiveSite = { slug: site.slug, siteId: site.siteId, setAt: new Date().toISOString() };
  content.databases[database] = stored;
  await writeFile(configDir, content);
  return stored;
}

/** Returns what was forgotten, if anything. */
export async function clearActiveSite(configDir: string, database: string): Promise<StoredActiveSite | null> {
  const content = await readFileForRewrite(configDir);
  const previous = content.databases[database] ?? null;
  delete content.databases[database];
  await writeFile(configDir, content);
  return previous;
}

/** `--site SLUG`, defaulting to the active site (see resolveSiteFlag). */
export const siteFlag = Flags.string({
  helpValue: 'SLUG',
  description: 'site slug (default: the active site chosen with site:use)',
});

/**
 * The slug of `--site`, else of the active site of this database, which must still exist and not
 * be soft-deleted; a notice on stderr says the active site is used. Call it after openContext:
 *
 *   const ctx = await this.openContext(flags);
 *   const site = await resolveSiteFlag(this, flags, ctx);
 */
export async function resolveSiteFlag(
  command: { config: { configDir: string; bin: string } },
  flags: DatabaseFlags & { site?: string },
  ctx: { sql: Queryable; actor: Actor },
): Promise<string> {
  if (flags.site !== undefined) return flags.site;
  const stored = await readActiveSite(command.config.configDir, databaseKey(flags));
  if (!stored) {
    throw new ValidationError(`missing flag --site: pass --site SLUG, or choose an active site with ${command.config.bin} site:use SLUG`);
  }
  const site = await checkActiveSite(ctx, stored);
  process.stderr.write(`${errColors.dim(`using the active site ${site.slug} (chosen with site:use; --site picks another)`)}\n`);
  return site.slug;
}
