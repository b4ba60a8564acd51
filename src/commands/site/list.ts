import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderTable } from '../../cli/output.js';
import { siteStatusLabel } from '../../cli/site-view.js';
import { listSites, type SiteListItem } from '../../lib/sites/sites.js';

export default class SiteList extends IndigoCommand {
  static summary = 'List sites (soft-deleted ones only with --status deleted or all)';
  static examples = ['<%= config.bin %> site:list', '<%= config.bin %> site:list --status all --json'];
  static flags = {
    status: Flags.string({ options: ['active', 'suspended', 'deleted', 'all'], description: 'which sites (default: all but soft-deleted)' }),
  };

  async run(): Promise<SiteListItem[]> {
    const { flags } = await this.parse(SiteList);
    const ctx = await this.openContext(flags);
    const sites = await listSites(ctx, { status: flags.status as 'active' | 'suspended' | 'deleted' | 'all' | undefined });
    if (!this.jsonEnabled()) {
      if (sites.length === 0) this.log('No sites.');
      else {
        this.log(renderTable(
          ['slug', 'name', 'status', 'schema', 'primary domain', 'domains', 'members', 'created'],
          sites.map((site) => [site.slug + (site.isNetworkAdmin ? ' *' : ''), site.name, siteStatusLabel(site), site.schemaName, site.primaryDomain, site.domainCount, site.memberCount, site.createdAt]),
        ));
        this.log(`${sites.length} site${sites.length === 1 ? '' : 's'}${sites.some((site) => site.isNetworkAdmin) ? ' (* network admin site)' : ''}`);
      }
    }
    return sites;
  }
}
