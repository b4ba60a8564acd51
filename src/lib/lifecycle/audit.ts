import { listAudit, type AuditEntry } from '../audit.js';
import type { Actor } from '../context.js';
import type { Queryable } from '../db/connect.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';

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
  const entries = await listAudit(ctx.sql, { siteSlug: options.site, limit });
  if (options.site !== undefined && entries.length === 0) {
    // A typo should not read as "nothing happened to that site".
    const [known] = await ctx.sql`select 1 from public.sites where slug = ${options.site}`;
    if (!known) throw new NotFoundError(`no site "${options.site}" and no audit entries for it`, { slug: options.site });
  }
  return entries;
}
