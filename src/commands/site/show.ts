import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderSite } from '../../cli/site-view.js';
import { showSite, type SiteDetail } from '../../lib/sites/sites.js';

export default class SiteShow extends IndigoCommand {
  static summary = 'Show a site with its schema, status, domains and member counts';
  static examples = ['<%= config.bin %> site:show acme'];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };

  async run(): Promise<SiteDetail> {
    const { args, flags } = await this.parse(SiteShow);
    const ctx = await this.openContext(flags);
    const site = await showSite(ctx, args.slug);
    if (!this.jsonEnabled()) {
      const roles = Object.entries(site.members.byRole).map(([role, count]) => `${count} ${role}`).join(', ');
      this.log(renderSite(site, [
        ['domains', site.domains.length ? site.domains.map((d) => `${d.domain} (${d.verificationState}${d.isPrimary ? ', primary' : ''})`).join('\n' + ' '.repeat(15)) : '-'],
        ['members', site.members.total ? `${site.members.total} (${roles})` : 0],
      ]));
    }
    return site;
  }
}
