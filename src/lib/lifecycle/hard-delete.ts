import { recordAudit } from '../audit.js';
import type { IndigoContext } from '../context.js';
import type { Queryable, Tx } from '../db/connect.js';
import { ConflictError, IndigoError, NotFoundError } from '../errors.js';
import { authorize } from '../policy.js';
import { purgeSiteRedis, type PurgeSiteRedisOptions, type PurgeSiteRedisResult } from '../scope/purge.js';
import { findSiteBySlug, lockSiteBySlug, memberRoleSummary, notifySiteChanged, type MemberRoleSummary } from '../sites/queries.js';
import type { Site } from '../sites/types.js';
import {recordedSiteSchema, refuseNetworkAdmin } from './locked-site.js';
import { lockSchemaRelations, outsideDependents, schemaExists, tableRowCounts, type OutsideDependent, type TableRows } from './schema-catalog.js';

/** Everything a hard delete removes, counted before it goes. */
export interface SiteRemoval {
  site: Pick<Site, 'id' | 'slug' | 'name' | 'schemaName' | 'status' | 'deletedAt' | 'purgeAfter'>;
  /** False when the site row pointed at a schema that was already gone (see site:stats drift). */
  schemaExisted: boolean;
  tables: TableRows[];
  rows: number;
  domains: string[];
  members: MemberRoleSummary;
}

/** What happened in Redis after the commit; a failure there does not undo the delete. */
export type RedisPurgeOutcome = PurgeSiteRedisResult | { skipped: false; failed: true; error: string };

export interface HardDeleteResult extends SiteRemoval {
  redis: RedisPurgeOutcome;
}

export interface HardDeleteSiteInput {
  slug: string;
  /** The slug typed again; anything else (or nothing) refuses with exit 4. */
  confirm?: string;
  /** Needed to hard-delete a site that is not soft-deleted. */
  force?: boolean;
  /** Where the site's Redis keys and queues are (default REDIS_URL; unset skips the purge). */
  redis?: Omit<PurgeSiteRedisOptions, 'siteId'>;
}

export function assertHardDeleteConfirmed(slug: string, confirm: string | undefined): void {
  if (confirm === undefined || confirm === '') {
    throw new ConflictError(`permanently deleting site "${slug}" needs its slug typed again as confirmation (--confirm ${slug})`, { slug });
  }
  if (confirm !== slug) {
    throw new ConflictError(`confirmation ${JSON.stringify(confirm)} does not match the slug "${slug}": nothing was deleted`, { slug, confirm });
  }
}

/**
 * Drops a site for good: its schema (DROP SCHEMA … CASCADE), its row, domains and members, in
 * one transaction, then its Redis keys and queues after the commit (Redis is not transactional;
 * the site id is never reused, so leftovers there can only be garbage, never another site's data).
 */
export async function hardDeleteSite(ctx: IndigoContext, input: HardDeleteSiteInput): Promise<HardDeleteResult> {
  authorize(ctx.actor, 'site.hardDelete');
  assertHardDeleteConfirmed(input.slug, input.confirm);
  const removal = await ctx.sql.begin(async (tx) => {
    const site = await lockSiteBySlug(tx, input.slug);
    refuseNetworkAdmin(site, 'deleted');
    if (!site.deletedAt && !input.force) {
      throw new ConflictError(
        `site "${site.slug}" is not soft-deleted: delete it with site:delete ${site.slug} first, or add --force to remove an active site at once`,
        { slug: site.slug },
      );
    }
    return removeSite(tx, ctx, site, { action: 'site.hardDelete', details: { forced: !site.deletedAt } });
  });
  return { ...removal, redis: await purgeRedisAfterCommit(ctx, removal.site.id, input.redis) };
}

/** Reads what removing the site would take away, and what outside the schema would block it. */
export async function inventorySite(sql: Queryable, site: Site): Promise<SiteRemoval & { blockedBy: OutsideDependent[] }> {
  const schemaName = recordedSiteSchema(site);
  const existed = await schemaExists(sql, schemaName);
  const [tables, blockedBy, domains, members] = await Promise.all([
    existed ? tableRowCounts(sql, schemaName) : [],
    existed ? outsideDependents(sql, schemaName) : [],
    sql<{ domain: string }[]>`select domain from public.site_domains where site_id = ${site.id} order by domain`,
    memberRoleSummary(sql, site.id),
  ]);
  return {
    site: { id: site.id, slug: site.slug, name: site.name, schemaName, status: site.status, deletedAt: site.deletedAt, purgeAfter: site.purgeAfter },
    schemaExisted: existed,
    tables,
    rows: tables.reduce((sum, table) => sum + table.rows, 0),
    domains: domains.map((row) => row.domain),
    members,
    blockedBy,
  };
}

/**
 * The part of a hard delete inside the caller's transaction, with the site already locked.
 * The schema's tables are locked first so that no view or foreign key can be attached to them
 * between the dependency check and the DROP.
 */
async function removeSite(tx: Tx, ctx: IndigoContext, site: Site, audit: { action: string; details: Record<string, unknown> }): Promise<SiteRemoval> {
  refuseNetworkAdmin(site, 'deleted');
  await lockSchemaRelations(tx, recordedSiteSchema(site), 'access exclusive');
  const { blockedBy, ...removal } = await inventorySite(tx, site);
  if (blockedBy.length > 0) throw outsideDependentsError(site, blockedBy);
  await tx`drop schema if exists ${tx(removal.site.schemaName)} cascade`;
  await tx`delete from public.sites where id = ${site.id}`;
  await recordAudit(tx, ctx.actor, {
    action: audit.action,
    site,
    details: {
      ...audit.details,
      schema: removal.site.schemaName,
      schemaExisted: removal.schemaExisted,
      tables: removal.tables.length,
      rows: removal.rows,
      domains: removal.domains,
      members: removal.members.total,
    },
  });
  await notifySiteChanged(tx, site);
  return removal;
}

export class OutsideDependentsError extends ConflictError {
  override readonly code = 'OUTSIDE_DEPENDENTS';
}

function outsideDependentsError(site: Site, dependents: OutsideDependent[]): OutsideDependentsError {
  const objects = [...new Set(dependents.map((dependent) => dependent.object))];
  return new OutsideDependentsError(
    `refusing to drop ${site.schemaName}: ${objects.length} object${objects.length === 1 ? '' : 's'} outside it depend${objects.length === 1 ? 's' : ''} on it and would disappear with it: ${objects.join(', ')}. Drop or change ${objects.length === 1 ? 'it' : 'them'} first`,
    { slug: site.slug, schema: site.schemaName, dependents },
  );
}

async function purgeRedisAfterCommit(ctx: IndigoContext, siteId: number, options: HardDeleteSiteInput['redis']): Promise<RedisPurgeOutcome> {
  try {
    return await purgeSiteRedis({ ...options, siteId });
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.warn(`site ${siteId} was deleted, but its Redis keys and queues were not purged: ${message}`);
    return { skipped: false, failed: true, error: message };
  }
}

export interface PurgeSitesInput {
  /** Report what would be purged without changing anything. */
  dryRun?: boolean;
  redis?: HardDeleteSiteInput['redis'];
  /** Called after each site's outcome (for progress lines). */
  onSite?: (outcome: PurgeOutcome) => void;
}

export type PurgeOutcome =
  | ({ slug: string; outcome: 'purged' } & HardDeleteResult)
  | ({ slug: string; outcome: 'would-purge' } & SiteRemoval & { blockedBy: OutsideDependent[] })
  | { slug: string; outcome: 'skipped'; reason: string }
  | { slug: string; outcome: 'failed'; code: string; error: string; details?: Record<string, unknown> };

export interface PurgeSitesResult {
  dryRun: boolean;
  sites: PurgeOutcome[];
  purged: number;
  failed: number;
}

/**
 * Hard-deletes every soft-deleted site whose grace period has passed (for cron). Each site goes
 * in its own transaction and a failing site (e.g. a view in public depends on it) does not stop
 * the others; the caller turns `failed > 0` into a partial failure.
 */
export async function purgeExpiredSites(ctx: IndigoContext, input: PurgeSitesInput = {}): Promise<PurgeSitesResult> {
  authorize(ctx.actor, 'site.hardDelete');
  const due = await ctx.sql<{ slug: string }[]>`
    select slug from public.sites
    where deleted_at is not null and purge_after <= now() and not is_network_admin
    order by purge_after, slug`;
  const sites: PurgeOutcome[] = [];
  for (const { slug } of due) {
    const outcome = input.dryRun ? await previewPurge(ctx, slug) : await purgeOne(ctx, slug, input.redis);
    sites.push(outcome);
    input.onSite?.(outcome);
  }
  return {
    dryRun: Boolean(input.dryRun),
    sites,
    purged: sites.filter((site) => site.outcome === 'purged').length,
    failed: sites.filter((site) => site.outcome === 'failed').length,
  };
}

async function previewPurge(ctx: IndigoContext, slug: string): Promise<PurgeOutcome> {
  const site = await findSiteBySlug(ctx.sql, slug);
  if (!site) return { slug, outcome: 'skipped', reason: 'removed by another operation meanwhile' };
  return { slug, outcome: 'would-purge', ...(await inventorySite(ctx.sql, site)) };
}

async function purgeOne(ctx: IndigoContext, slug: string, redis: HardDeleteSiteInput['redis']): Promise<PurgeOutcome> {
  try {
    const removal = await ctx.sql.begin(async (tx) => {
      const site = await lockSiteBySlug(tx, slug);
      // Checked again under the lock: a restore or a new delete with a longer grace may have
      // happened since the list was read.
      const [{ due }] = await tx<{ due: boolean }[]>`
        select deleted_at is not null and purge_after <= now() as due from public.sites where id = ${site.id}`;
      if (!due) return null;
      return removeSite(tx, ctx, site, { action: 'site.purge', details: { deletedAt: site.deletedAt, deletedBy: site.deletedBy, purgeAfter: site.purgeAfter } });
    });
    if (!removal) return { slug, outcome: 'skipped', reason: 'restored or given a longer grace period meanwhile' };
    return { slug, outcome: 'purged', ...removal, redis: await purgeRedisAfterCommit(ctx, removal.site.id, redis) };
  } catch (error) {
    if (error instanceof NotFoundError) return { slug, outcome: 'skipped', reason: 'removed by another operation meanwhile' };
    if (error instanceof IndigoError) return { slug, outcome: 'failed', code: error.code, error: error.message, ...(error.details && { details: error.details }) };
    return { slug, outcome: 'failed', code: 'UNEXPECTED', error: (error as Error).message };
  }
}
