import { recordAudit } from '../audit.js';
import type { IndigoContext } from '../context.js';
import { authorize } from '../policy.js';
import { getSiteBySlug, notifySiteChanged, lockSiteBySlug } from '../sites/queries.js';
import type { Site } from '../sites/types.js';
import { refuseDeleted, refuseNetworkAdmin } from './locked-site.js';
import { validateLabel } from '../labels.js';

export const MAX_STATUS_REASON_LENGTH = 500;

export interface SiteStatusChange {
  site: Site;
  /** False when the site already had the requested status: nothing was written. */
  changed: boolean;
}

export function validateStatusReason(reason: string | undefined): string | null {
  if (reason === undefined) return null;
  return validateLabel(reason, 'the reason', MAX_STATUS_REASON_LENGTH, 'the reason is empty; leave --reason out instead');
}

/**
 * Suspends a site: its data, domains and members stay; resolvers report it as suspended.
 * Suspending a suspended site changes nothing (not even its reason) and says so.
 */
export async function suspendSite(ctx: IndigoContext, input: { slug: string; reason?: string }): Promise<SiteStatusChange> {
  authorize(ctx.actor, 'site.suspend');
  const reason = validateStatusReason(input.reason);
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteBySlug(tx, input.slug);
    refuseNetworkAdmin(site, 'suspended');
    refuseDeleted(site, 'suspended');
    if (site.status === 'suspended') return { site, changed: false };
    await tx`update public.sites set status = 'suspended', status_reason = ${reason}, updated_at = now() where id = ${site.id}`;
    await recordAudit(tx, ctx.actor, { action: 'site.suspend', site, details: { reason } });
    await notifySiteChanged(tx, site);
    return { site: await getSiteBySlug(tx, site.slug), changed: true };
  });
}

export async function unsuspendSite(ctx: IndigoContext, input: { slug: string }): Promise<SiteStatusChange> {
  authorize(ctx.actor, 'site.unsuspend');
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteBySlug(tx, input.slug);
    refuseDeleted(site, 'unsuspended');
    if (site.status === 'active') return { site, changed: false };
    await tx`update public.sites set status = 'active', status_reason = null, updated_at = now() where id = ${site.id}`;
    await recordAudit(tx, ctx.actor, { action: 'site.unsuspend', site, details: { previousReason: site.statusReason } });
    await notifySiteChanged(tx, site);
    return { site: await getSiteBySlug(tx, site.slug), changed: true };
  });
}
