import { recordAudit } from '../audit.js';
import type { IndigoContext } from '../context.js';
import { authorize } from '../policy.js';
import { purgeSiteRedis, type PurgeSiteRedisOptions, type PurgeSiteRedisResult } from '../scope/purge.js';
import { getSiteBySlug } from '../sites/queries.js';
import type { Site } from '../sites/types.js';

export interface PurgeSiteCacheInput {
  slug: string;
  /** Where the site's Redis keys and queues are (default REDIS_URL; unset skips the purge). */
  redis?: Omit<PurgeSiteRedisOptions, 'siteId'>;
}

export interface PurgeSiteCacheResult {
  site: Pick<Site, 'id' | 'slug' | 'schemaName'>;
  redis: PurgeSiteRedisResult;
}

/**
 * Deletes a site's Redis keys and queues (what hard delete does after its commit), for a site
 * that stays: after a bulk import, or to drop a suspended site's cached pages. Works on
 * soft-deleted sites too. Without REDIS_URL it reports that it skipped, never an error.
 */
export async function purgeSiteCache(ctx: IndigoContext, input: PurgeSiteCacheInput): Promise<PurgeSiteCacheResult> {
  authorize(ctx.actor, 'site.purgeCache');
  const site = await getSiteBySlug(ctx.sql, input.slug);
  const redis = await purgeSiteRedis({ ...input.redis, siteId: site.id });
  if (!redis.skipped) {
    await recordAudit(ctx.sql, ctx.actor, { action: 'site.purgeCache', site, details: { keys: redis.keys, jobs: redis.jobs, queues: redis.queues.length } });
  }
  return { site: { id: site.id, slug: site.slug, schemaName: site.schemaName }, redis };
}
