import type { Site } from '../lib/sites/types.js';
import { out, renderRecord } from './output.js';

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
