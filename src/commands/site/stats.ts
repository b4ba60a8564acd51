import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { out, renderRecord, renderTable } from '../../cli/output.js';
import { networkStats, DEFAULT_STATS_TOP, type NetworkStats } from '../../lib/lifecycle/stats.js';

export default class SiteStats extends IndigoCommand {
  static summary = 'Network statistics: sites by status, domains, members, schema sizes, drift and pending site migrations';
  static examples = ['<%= config.bin %> site:stats', '<%= config.bin %> site:stats --top 25 --json'];
  static flags = {
    top: Flags.integer({ description: `how many of the largest site schemas to list (default ${DEFAULT_STATS_TOP})`, min: 1, max: 1000 }),
  };

  async run(): Promise<NetworkStats> {
    const { flags } = await this.parse(SiteStats);
    const ctx = await this.openContext(flags);
    const stats = await networkStats(ctx, { top: flags.top });
    if (!this.jsonEnabled()) this.log(renderStats(stats));
    return stats;
  }
}

function renderStats(stats: NetworkStats): string {
  const { sites, domains, members, size, drift, migrations } = stats;
  const sections = [
    renderRecord([
      ['sites', `${sites.total} (${sites.active} active, ${sites.suspended} suspended, ${sites.deleted} deleted${sites.purgeDue ? `, ${sites.purgeDue} due for purge` : ''})`],
      ['domains', `${domains.total} (${domains.verified} verified, ${domains.pending} pending, ${domains.failed} failed)`],
      ['members', `${members.memberships} memberships, ${members.users} users (${members.usersWithoutSite} without a site)`],
      ['schema size', formatBytes(size.totalBytes)],
      ['migrations', `${migrations.available.length} available; ${migrations.sitesBehind} site(s) behind${migrations.integrityErrors.length ? `, ${migrations.integrityErrors.length} with integrity errors` : ''}`],
    ]),
  ];
  if (size.top.length) {
    sections.push(`${out.bold('Largest site schemas')}\n${renderTable(['site', 'schema', 'size'], size.top.map((s) => [s.slug, s.schemaName, formatBytes(s.bytes)]))}`);
  }
  if (drift.schemasWithoutSite.length || drift.sitesWithoutSchema.length) {
    sections.push(`${out.yellow('Drift')}\n${renderTable(['kind', 'name'], [
      ...drift.schemasWithoutSite.map((schema) => ['schema without a site row', schema]),
      ...drift.sitesWithoutSchema.map((site) => ['site without its schema', `${site.slug} (${site.schemaName})`]),
    ])}`);
  }
  if (migrations.pending.length || migrations.integrityErrors.length) {
    sections.push(`${out.bold('Pending site migrations')} (run migrate:sites)\n${renderTable(['site', 'pending'], [
      ...migrations.pending.map((site) => [site.slug, site.pending.join(', ')]),
      ...migrations.integrityErrors.map((site) => [site.slug, out.red(site.error)]),
    ])}`);
  }
  return sections.join('\n\n');
}

function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
