import { recordAudit } from '../audit.js';
import { actorLabel, type IndigoContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { getSiteBySlug, notifySiteChanged, lockSiteBySlug } from '../sites/queries.js';
import type { Site } from '../sites/types.js';
import {refuseNetworkAdmin } from './locked-site.js';

export const DEFAULT_GRACE_SECONDS = 30 * 86_400;
export const MAX_GRACE_SECONDS = 3650 * 86_400;

/** `7d` → seconds. Whole numbers with a unit (s, m, h, d, w); `0d` makes the site purgeable at once. */
export function parseGracePeriod(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, '--grace', { wholeNumber: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  } catch {
    throw new ValidationError(`invalid grace period ${JSON.stringify(text)}: a whole number followed by s, m, h, d or w (e.g. 7d, 12h)`, { grace: text });
  }
  return validateGraceSeconds(ms / 1000);
}

function validateGraceSeconds(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_GRACE_SECONDS) {
    throw new ValidationError(`the grace period must be between 0 and ${MAX_GRACE_SECONDS / 86_400} days`, { graceSeconds: seconds });
  }
  return seconds;
}

export interface SoftDeleteSiteInput {
  slug: string;
  /** Until purge_after; default 30 days. */
  graceSeconds?: number;
}

export interface SoftDeleteResult {
  site: Site;
  /** False when the site was already deleted: its deleted_at and purge_after are unchanged. */
  changed: boolean;
}

/**
 * Marks a site deleted and schedules it for site:purge. Its schema, domains and members stay,
 * so its slug and domains stay reserved and site:restore brings it back exactly as it was.
 */
export async function softDeleteSite(ctx: IndigoContext, input: SoftDeleteSiteInput): Promise<SoftDeleteResult> {
  authorize(ctx.actor, 'site.delete');
  const graceSeconds = validateGraceSeconds(input.graceSeconds ?? DEFAULT_GRACE_SECONDS);
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteBySlug(tx, input.slug);
    refuseNetworkAdmin(site, 'deleted');
    if (site.deletedAt) return { site, changed: false };
    await tx`
      update public.sites
      set deleted_at = now(), deleted_by = ${actorLabel(ctx.actor)}, purge_after = now() + make_interval(secs => ${graceSeconds}), updated_at = now()
      where id = ${site.id}`;
    const deleted = await getSiteBySlug(tx, site.slug);
    await recordAudit(tx, ctx.actor, { action: 'site.delete', site, details: { graceSeconds, purgeAfter: deleted.purgeAfter } });
    await notifySiteChanged(tx, site);
    return { site: deleted, changed: true };
  });
}

/** Undoes a soft delete; the site keeps the status (active or suspended) it had. */
export async function restoreSite(ctx: IndigoContext, input: { slug: string }): Promise<SoftDeleteResult> {
  authorize(ctx.actor, 'site.restore');
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteBySlug(tx, input.slug);
    if (!site.deletedAt) return { site, changed: false };
    await tx`update public.sites set deleted_at = null, deleted_by = null, purge_after = null, updated_at = now() where id = ${site.id}`;
    await recordAudit(tx, ctx.actor, { action: 'site.restore', site, details: { deletedAt: site.deletedAt, deletedBy: site.deletedBy } });
    await notifySiteChanged(tx, site);
    return { site: await getSiteBySlug(tx, site.slug), changed: true };
  });
}
