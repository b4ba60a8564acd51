import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderSite } from '../../cli/site-view.js';
import { suspendSite, validateStatusReason, type SiteStatusChange } from '../../lib/lifecycle/status.js';

export default class SiteSuspend extends IndigoCommand {
  static summary = 'Suspend a site: it keeps its data, domains and members, and resolvers report it as suspended';
  static examples = ['<%= config.bin %> site:suspend acme --reason "unpaid invoice"'];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };
  static flags = {
    reason: Flags.string({ description: 'why the site is suspended (kept with the site and in the audit log)' }),
  };

  async run(): Promise<SiteStatusChange> {
    const { args, flags } = await this.parse(SiteSuspend);
    validateStatusReason(flags.reason);
    const ctx = await this.openContext(flags);
    const result = await suspendSite(ctx, { slug: args.slug, reason: flags.reason });
    if (!this.jsonEnabled()) {
      const reason = result.site.statusReason ? ` (${result.site.statusReason})` : '';
      this.log(result.changed ? `Suspended site ${result.site.slug}.` : `Site ${result.site.slug} is already suspended${reason}: nothing changed.`);
      this.log(renderSite(result.site));
    }
    return result;
  }
}
