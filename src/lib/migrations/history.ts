import type { Queryable } from '../db/connect.js';
import { MigrationIntegrityError, NotFoundError, ValidationError } from '../errors.js';
import { schemaNameForSlug } from '../sites/slug.js';
import type { MigrationFile, MigrationSet } from './files.js';
import { assertSiteSchemaName, pendingSiteMigrations, SITE_HISTORY_TABLE, type AppliedMigration } from './site.js';

/** A site as the migration runner sees it. */
export interface SiteTarget {
  id: number;
  slug: string;
  schemaName: string;
  status: 'active' | 'suspended';
  deleted: boolean;
}

export type SiteSelection = 'active' | 'all';

export interface SiteFilter {
  /** Only these slugs; an unknown one is refused (exit 3). */
  slugs?: string[];
  /** `active`: active sites that are not soft-deleted; `all` (default): every site, so none falls behind. */
  status?: SiteSelection;
}

/** `--sites a,b` → validated, de-duplicated slugs (the network admin site's reserved slug included). */
export function parseSiteList(value: string | string[]): string[] {
  const slugs = (Array.isArray(value) ? value : value.split(',')).map((slug) => slug.trim()).filter(Boolean);
  if (slugs.length === 0) throw new ValidationError('--sites names no site: give a comma-separated list of slugs');
  for (const slug of slugs) schemaNameForSlug(slug);
  return [...new Set(slugs)];
}

export async function listSiteTargets(sql: Queryable, filter: SiteFilter = {}): Promise<SiteTarget[]> {
  const status = filter.status ?? 'all';
  if (status !== 'active' && status !== 'all') throw new ValidationError(`invalid site status ${JSON.stringify(status)}: active or all`);
  const sites = await sql<SiteTarget[]>`
    select id, slug, schema_name as "schemaName", status, deleted_at is not null as deleted
    from public.sites
    where ${status === 'active' ? sql`status = 'active' and deleted_at is null` : sql`true`}
      and ${filter.slugs ? sql`slug = any(${filter.slugs})` : sql`true`}
    order by id`;
  // Ids end up in SQL text (advisory lock keys); a pool without indigo-sites' bigint parser returns strings.
  for (const site of sites) site.id = Number(site.id);
  if (filter.slugs) {
    const found = new Set(sites.map((site) => site.slug));
    const missing = filter.slugs.filter((slug) => !found.has(slug));
    if (missing.length > 0) {
      throw new NotFoundError(`no ${status === 'active' ? 'active ' : ''}site${missing.length === 1 ? '' : 's'} ${missing.map((slug) => `"${slug}"`).join(', ')}`, { slugs: missing });
    }
  }
  return [...sites];
}

/** A site's history, or why it could not be read. */
export type SiteHistory = { history: AppliedMigration[]; missingSchema?: false } | { history: null; missingSchema: true };

/** Sites per history query: each query locks its tables, and max_locks_per_transaction is 64 by default. */
const HISTORY_CHUNK = 100;
/** undefined_table, invalid_schema_name: a site was dropped after the catalog was read. */
const DROPPED = new Set(['42P01', '3F000']);

type HistoryRow = AppliedMigration & { schema: string };

/**
 * Every site's applied migrations in a few queries (one UNION ALL over the history tables per
 * chunk of sites, chunks spread over the given connections) instead of one per site: 1,000 sites
 * are planned in well under a second. A site whose schema is gone is reported as such; one without
 * a history table has applied nothing.
 */
export async function readSiteHistories(connections: Queryable | Queryable[], sites: Pick<SiteTarget, 'schemaName'>[]): Promise<Map<string, SiteHistory>> {
  const pool = Array.isArray(connections) ? connections : [connections];
  const schemas = sites.map((site) => site.schemaName);
  for (const schema of schemas) assertSiteSchemaName(schema);
  const result = new Map<string, SiteHistory>(schemas.map((schema) => [schema, { history: null, missingSchema: true }]));
  const tables = await historyTables(pool[0], schemas);
  for (const schema of tables.keys()) result.set(schema, { history: [] });
  const withHistory = [...tables].filter(([, hasHistory]) => hasHistory).map(([schema]) => schema);
  const chunks: string[][] = [];
  for (let i = 0; i < withHistory.length; i += HISTORY_CHUNK) chunks.push(withHistory.slice(i, i + HISTORY_CHUNK));
  await Promise.all(chunks.map(async (first, index) => {
    const sql = pool[index % pool.length];
    let chunk = first;
    for (let attempt = 1; ; attempt++) {
      try {
        const rows = await sql.unsafe<HistoryRow[]>(historyUnion(chunk));
        for (const { schema, ...row } of rows) (result.get(schema)!.history as AppliedMigration[]).push(row);
        return;
      } catch (error) {
        if (!DROPPED.has((error as { code?: string }).code ?? '') || attempt === 3) throw error;
        // Read again which of these sites still have a history table, and only those.
        const still = await historyTables(sql, chunk);
        for (const schema of chunk) if (!still.has(schema)) result.set(schema, { history: null, missingSchema: true });
        chunk = chunk.filter((schema) => still.get(schema));
        if (chunk.length === 0) return;
      }
    }
  }));
  return result;
}

/** Which of the schemas exist (the keys), and whether each has a history table (the values). */
async function historyTables(sql: Queryable, schemas: string[]): Promise<Map<string, boolean>> {
  const rows = await sql<{ schema: string; hasHistory: boolean }[]>`
    select n.nspname as schema, exists (
      select 1 from pg_class c where c.relnamespace = n.oid and c.relname = ${SITE_HISTORY_TABLE} and c.relkind in ('r', 'p')
    ) as "hasHistory"
    from pg_namespace n where n.nspname = any(${schemas})`;
  return new Map(rows.map((row) => [row.schema, row.hasHistory]));
}

/**
 * Schema names were checked against the strict site schema pattern (assertSiteSchemaName), so they
 * can be written into the text: a UNION ALL over tables cannot take identifiers as parameters.
 */
function historyUnion(schemas: string[]): string {
  return schemas
    .map((schema) => `select '${schema}' as schema, name, checksum, applied_at as "appliedAt", duration_ms as "durationMs" from "${schema}".${SITE_HISTORY_TABLE}`)
    .join('\nunion all\n') + '\norder by schema, "appliedAt", name';
}

export interface MigrationProblem {
  slug: string;
  schemaName: string;
  message: string;
  migration?: string;
  file?: string;
}

export type SitePlan =
  | { site: SiteTarget; history: AppliedMigration[]; pending: MigrationFile[]; problem?: undefined }
  | { site: SiteTarget; history: AppliedMigration[] | null; pending?: undefined; problem: MigrationProblem };

/** Each site's pending migrations, or the integrity problem that stops it (edited, missing or misordered file; missing schema). */
export function planSites(set: MigrationSet, sites: SiteTarget[], histories: Map<string, SiteHistory>): SitePlan[] {
  return sites.map((site): SitePlan => {
    const read = histories.get(site.schemaName);
    if (!read || read.history === null) {
      return { site, history: null, problem: { slug: site.slug, schemaName: site.schemaName, message: `schema ${site.schemaName} of site "${site.slug}" does not exist` } };
    }
    try {
      return { site, history: read.history, pending: pendingSiteMigrations(set, read.history, site.schemaName) };
    } catch (error) {
      if (!(error instanceof MigrationIntegrityError)) throw error;
      const details = (error.details ?? {}) as { migration?: string; file?: string };
      return { site, history: read.history, problem: { slug: site.slug, schemaName: site.schemaName, message: error.message, migration: details.migration, file: details.file } };
    }
  });
}

/** Refuses the whole run before any DDL when a site's history disagrees with the files, naming sites and files. */
export function assertNoIntegrityProblems(plans: SitePlan[]): void {
  const problems = plans.flatMap((plan) => (plan.problem && plan.problem.migration ? [plan.problem] : []));
  if (problems.length === 0) return;
  // One line per file, not per site: an edited file is usually applied everywhere.
  const byFile = new Map<string, MigrationProblem[]>();
  for (const problem of problems) {
    const key = problem.file ?? problem.migration!;
    byFile.set(key, [...(byFile.get(key) ?? []), problem]);
  }
  const lines = [...byFile.values()].map((group) => {
    const slugs = group.slice(0, 5).map((problem) => problem.slug).join(', ') + (group.length > 5 ? `, … ${group.length - 5} more` : '');
    return `  ${group[0].message}${group.length > 1 ? ` (and on ${group.length - 1} other site${group.length === 2 ? '' : 's'})` : ''}; sites: ${slugs}`;
  });
  throw new MigrationIntegrityError(
    `${problems.length} site${problems.length === 1 ? '' : 's'} disagree${problems.length === 1 ? 's' : ''} with the migration files; nothing was changed:\n${lines.join('\n')}`,
    { problems },
  );
}
