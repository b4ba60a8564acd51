import type { Queryable } from './db/connect.js';
import { actorLabel, type Actor } from './context.js';

export interface AuditEntryInput {
  action: string;
  site?: { id: number; slug: string } | null;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  siteId: number | null;
  siteSlug: string | null;
  details: Record<string, unknown>;
}

/** Written in the same transaction as the change it records, so neither exists without the other. */
export async function recordAudit(sql: Queryable, actor: Actor, entry: AuditEntryInput): Promise<void> {
  await sql`
    insert into public.audit_log (actor, action, site_id, site_slug, details)
    values (${actorLabel(actor)}, ${entry.action}, ${entry.site?.id ?? null}, ${entry.site?.slug ?? null}, ${sql.json((entry.details ?? {}) as never)})`;
}
