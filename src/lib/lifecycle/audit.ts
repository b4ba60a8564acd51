import type { AuditEntry } from '../audit.js';
import type { Actor } from '../context.js';
import type { Queryable } from '../db/connect.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { findSiteBySlug } from '../sites/queries.js';

export const DEFAULT_AUDIT_LIMIT = 50;
export const MAX_AUDIT_LIMIT = 10_000;

export interface ListAuditEntriesOptions {
  /** Entries of this site only; hard-deleted sites keep theirs. */
  site?: string;
  limit?: number;
}

/** The newest audit entries first. */
export async function listAuditEntries(ctx: { sql: Queryable; actor: Actor }, options: ListAuditEntriesOptions = {}): Promise<AuditEntry[]> {
  authorize(ctx.actor, 'audit.list');
  const limit = options.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw new ValidationError(`--limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}`, { limit });
  }
  const { sql } = ctx;
  const entries = await sql<AuditEntry[]>`
    select id::int as id, at, actor, action, site_id::int as "siteId", site_slug as "siteSlug", details
    from public.audit_log
    where ${options.site === undefined ? sql`true` : sql`site_slug = ${options.site}`}
    order by id desc limit ${limit}`;
  // A typo should not read as "nothing happened to that site".
  if (options.site !== undefined && entries.length === 0 && !(await findSiteBySlug(sql, options.site))) {
    throw new NotFoundError(`no site "${options.site}" and no audit entries for it`, { slug: options.site });
  }
  return entries;
}
