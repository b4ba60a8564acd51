import type { Actor } from '../context.js';
import type { Queryable } from '../db/connect.js';
import { MigrationIntegrityError, ValidationError } from '../errors.js';
import { readSiteHistories } from '../migrations/history.js';
import { loadSiteMigrations, pendingSiteMigrations } from '../migrations/site.js';
import { authorize } from '../policy.js';

export const DEFAULT_STATS_TOP = 10;
const MAX_STATS_TOP = 1000;

export interface NetworkStatsOptions {
  /** How many of the largest site schemas to list. */
  top?: number;
}

export interface SchemaSize {
  slug: string;
  schemaName: string;
  bytes: number;
}

export interface NetworkStats {
  sites: { total: number; active: number; suspended: number; deleted: number; purgeDue: number };
  domains: { total: number; pending: number; verified: number; failed: number };
  members: { memberships: number; users: number; usersWithoutSite: number };
  size: { totalBytes: number; top: SchemaSize[] };
  drift: {
    /** `site_*` schemas that no site row records. */
    schemasWithoutSite: string[];
    /** Site rows whose schema does not exist. */
    sitesWithoutSchema: { slug: string; schemaName: string }[];
  };
  migrations: {
    available: string[];
    sitesBehind: number;
    pending: { slug: string; pending: string[] }[];
    /** Sites whose history no longer matches the files (edited or missing migrations). */
    integrityErrors: { slug: string; error: string }[];
  };
}

/**
 * Network-wide counts, sizes, drift between site rows and schemas, and pending site migrations
 * (against the context's site migrations folder: INDIGO_SITE_MIGRATIONS or the packaged set).
 */
export async function networkStats(ctx: { sql: Queryable; actor: Actor; siteMigrationsDir?: string }, options: NetworkStatsOptions = {}): Promise<NetworkStats> {
  authorize(ctx.actor, 'site.stats');
  const top = options.top ?? DEFAULT_STATS_TOP;
  if (!Number.isInteger(top) || top < 1 || top > MAX_STATS_TOP) throw new ValidationError(`--top must be a whole number from 1 to ${MAX_STATS_TOP}`, { top });
  const { sql } = ctx;
  const migrationSet = await loadSiteMigrations(ctx.siteMigrationsDir);

  const [[sites], [domains], [members], schemas, missing] = await Promise.all([
    sql<NetworkStats['sites'][]>`
      select count(*)::int as total,
        count(*) filter (where deleted_at is null and status = 'active')::int as active,
        count(*) filter (where deleted_at is null and status = 'suspended')::int as suspended,
        count(*) filter (where deleted_at is not null)::int as deleted,
        count(*) filter (where deleted_at is not null and purge_after <= now() and not is_network_admin)::int as "purgeDue"
      from public.sites`,
    sql<NetworkStats['domains'][]>`
      select count(*)::int as total,
        count(*) filter (where verification_state = 'pending')::int as pending,
        count(*) filter (where verification_state = 'verified')::int as verified,
        count(*) filter (where verification_state = 'failed')::int as failed
      from public.site_domains`,
    sql<NetworkStats['members'][]>`
      select (select count(*) from public.site_members)::int as memberships,
        (select count(*) from public.users)::int as users,
        (select count(*) from public.users u where not exists (select 1 from public.site_members m where m.user_id = u.id))::int as "usersWithoutSite"`,
    // Every site_* schema with its size; the left join shows which have a site row.
    sql<{ schemaName: string; slug: string | null; bytes: number }[]>`
      select n.nspname as "schemaName", s.slug,
        coalesce((select sum(case when c.relkind = 'S' then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end)
          from pg_class c where c.relnamespace = n.oid and c.relkind in ('r', 'm', 'S')), 0)::bigint as bytes
      from pg_namespace n left join public.sites s on s.schema_name = n.nspname
      where n.nspname like 'site\\_%'
      order by bytes desc, n.nspname`,
    sql<{ slug: string; schemaName: string }[]>`
      select s.slug, s.schema_name as "schemaName" from public.sites s
      where not exists (select 1 from pg_namespace n where n.nspname = s.schema_name)
      order by s.slug`,
  ]);

  const siteSchemas = schemas.filter((schema): schema is SchemaSize => schema.slug !== null);
  const pending: NetworkStats['migrations']['pending'] = [];
  const integrityErrors: NetworkStats['migrations']['integrityErrors'] = [];
  const histories = await readSiteHistories(sql, siteSchemas);
  for (const site of siteSchemas) {
    // A schema dropped since it was listed has no history to compare; the next run reports its drift.
    const { history } = histories.get(site.schemaName)!;
    if (!history) continue;
    try {
      const names = pendingSiteMigrations(migrationSet, history, site.schemaName).map((m) => m.name);
      if (names.length > 0) pending.push({ slug: site.slug, pending: names });
    } catch (error) {
      if (!(error instanceof MigrationIntegrityError)) throw error;
      integrityErrors.push({ slug: site.slug, error: error.message });
    }
  }
  pending.sort((a, b) => a.slug.localeCompare(b.slug));
  integrityErrors.sort((a, b) => a.slug.localeCompare(b.slug));

  return {
    sites,
    domains,
    members,
    size: {
      totalBytes: siteSchemas.reduce((sum, schema) => sum + schema.bytes, 0),
      top: siteSchemas.slice(0, top).map(({ slug, schemaName, bytes }) => ({ slug, schemaName, bytes })),
    },
    drift: { schemasWithoutSite: schemas.filter((schema) => schema.slug === null).map((schema) => schema.schemaName).sort(), sitesWithoutSchema: [...missing] },
    migrations: { available: migrationSet.migrations.map((m) => m.name), sitesBehind: pending.length, pending, integrityErrors },
  };
}
