import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderSite } from '../../cli/site-view.js';
import { unsuspendSite, type SiteStatusChange } from '../../lib/lifecycle/status.js';

export default class SiteUnsuspend extends IndigoCommand {
  static summary = 'Make a suspended site active again';
  static examples = ['<%= config.bin %> site:unsuspend acme'];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };

  async run(): Promise<SiteStatusChange> {
    const { args, flags } = await this.parse(SiteUnsuspend);
    const ctx = await this.openContext(flags);
    const result = await unsuspendSite(ctx, { slug: args.slug });
    if (!this.jsonEnabled()) {
      this.log(result.changed ? `Site ${result.site.slug} is active again.` : `Site ${result.site.slug} is not suspended: nothing changed.`);
      this.log(renderSite(result.site));
    }
    return result;
  }
}
