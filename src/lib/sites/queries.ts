import type { Queryable } from '../db/connect.js';
import { LOCK_CLASS_SITE } from '../db/locks.js';
import { NotFoundError } from '../errors.js';
import type { Site } from './types.js';

/** Channel that announces changes to sites and domains (caches of resolveHost listen on it). */
export const SITES_CHANGED_CHANNEL = 'indigo_sites_changed';

export function siteColumns(sql: Queryable) {
  return sql`s.id, s.slug, s.name, s.schema_name as "schemaName", s.status, s.status_reason as "statusReason",
    s.deleted_at as "deletedAt", s.deleted_by as "deletedBy", s.purge_after as "purgeAfter",
    s.is_network_admin as "isNetworkAdmin", s.settings, s.created_at as "createdAt", s.updated_at as "updatedAt"`;
}

export async function findSiteBySlug(sql: Queryable, slug: string, options: { forUpdate?: boolean } = {}): Promise<Site | null> {
  const [site] = await sql<Site[]>`
    select ${siteColumns(sql)} from public.sites s where s.slug = ${slug}
    ${options.forUpdate ? sql`for update` : sql``}`;
  return site ?? null;
}

export async function findSiteById(sql: Queryable, id: number, options: { forUpdate?: boolean } = {}): Promise<Site | null> {
  const [site] = await sql<Site[]>`
    select ${siteColumns(sql)} from public.sites s where s.id = ${id}
    ${options.forUpdate ? sql`for update` : sql``}`;
  return site ?? null;
}

export async function getSiteBySlug(sql: Queryable, slug: string, options: { forUpdate?: boolean } = {}): Promise<Site> {
  const site = await findSiteBySlug(sql, slug, options);
  if (!site) throw new NotFoundError(`site "${slug}" does not exist`, { slug });
  return site;
}

/** Tells other processes (resolveHost caches) that a site or its domains changed; sent at commit. */
export async function notifySiteChanged(sql: Queryable, site: { id: number; slug: string }): Promise<void> {
  await sql`select pg_notify(${SITES_CHANGED_CHANNEL}, ${JSON.stringify({ siteId: site.id, slug: site.slug })})`;
}

/**
 * Serialises lifecycle operations on one site (clone, delete, suspend, migrate …) for the rest
 * of the caller's transaction.
 */
export async function lockSite(sql: Queryable, siteId: number): Promise<void> {
  await sql`select pg_advisory_xact_lock(${LOCK_CLASS_SITE}, ${siteId})`;
}

/**
 * Finds the site, takes its per-site lock for the rest of the transaction, then reads the row
 * again by id FOR UPDATE: whatever another operation did while we waited (a hard delete, a
 * restore, a new site taking the slug) is what we act on, not the stale first read.
 */
export async function lockSiteBySlug(tx: Queryable, slug: string): Promise<Site> {
  const found = await getSiteBySlug(tx, slug);
  await lockSite(tx, found.id);
  const site = await findSiteById(tx, found.id, { forUpdate: true });
  if (!site) throw new NotFoundError(`site "${slug}" was removed by another operation while this one waited for it`, { slug });
  return site;
}

export interface MemberRoleSummary {
  total: number;
  byRole: Record<string, number>;
}

/** How many members the site has, in all and per role (site:show, and what a hard delete removes). */
export async function memberRoleSummary(sql: Queryable, siteId: number): Promise<MemberRoleSummary> {
  const roles = await sql<{ role: string; count: number }[]>`
    select role, count(*)::int as count from public.site_members where site_id = ${siteId} group by role order by role`;
  return { total: roles.reduce((sum, row) => sum + row.count, 0), byRole: Object.fromEntries(roles.map((row) => [row.role, row.count])) };
}
