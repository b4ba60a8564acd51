import type { Site } from '../lib/sites/types.js';
import type { RedisPurgeOutcome, SiteRemoval } from '../lib/lifecycle/hard-delete.js';
import { out, renderRecord, renderTable } from './output.js';

export function siteStatusLabel(site: Pick<Site, 'status' | 'deletedAt'>): string {
  if (site.deletedAt) return out.red('deleted');
  return site.status === 'active' ? out.green('active') : out.yellow('suspended');
}

export function renderSite(site: Site, extra: [string, unknown][] = []): string {
  return renderRecord([
    ['slug', site.slug],
    ['name', site.name],
    ['id', site.id],
    ['schema', site.schemaName],
    ['status', siteStatusLabel(site) + (site.statusReason ? ` (${site.statusReason})` : '')],
    ...(site.deletedAt ? [['deleted', `${site.deletedAt.toISOString()} by ${site.deletedBy ?? '?'}, purge after ${site.purgeAfter?.toISOString() ?? '-'}`] as [string, unknown]] : []),
    ...(site.isNetworkAdmin ? [['network admin', 'yes'] as [string, unknown]] : []),
    ['settings', Object.keys(site.settings).length ? site.settings : '-'],
    ['created', site.createdAt],
    ['updated', site.updatedAt],
    ...extra,
  ]);
}

/** What a hard delete or a purge removed, for people. */
export function renderRemoval(removal: SiteRemoval): string {
  const roles = Object.entries(removal.members.byRole).map(([role, count]) => `${count} ${role}`).join(', ');
  const summary = renderRecord([
    ['schema', removal.schemaExisted ? `${removal.site.schemaName} (${removal.tables.length} tables, ${removal.rows} rows)` : `${removal.site.schemaName} (was already missing)`],
    ['domains', removal.domains.length ? removal.domains.join(', ') : 0],
    ['members', removal.members.total ? `${removal.members.total} (${roles})` : 0],
  ]);
  if (removal.tables.length === 0) return summary;
  return `${renderTable(['table', 'rows'], removal.tables.map((table) => [table.table, table.rows]))}\n${summary}`;
}

export function describeRedisPurge(redis: RedisPurgeOutcome): string {
  if ('failed' in redis) return out.yellow(`not purged: ${redis.error}`);
  if (redis.skipped) return `skipped (${redis.reason})`;
  return `${redis.keys} keys, ${redis.queues.length} queues (${redis.jobs} jobs) removed`;
}
