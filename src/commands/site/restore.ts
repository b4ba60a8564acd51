import { Args } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderSite } from '../../cli/site-view.js';
import { restoreSite, type SoftDeleteResult } from '../../lib/lifecycle/soft-delete.js';

export default class SiteRestore extends IndigoCommand {
  static summary = 'Bring back a soft-deleted site exactly as it was (status, schema, domains, members)';
  static examples = ['<%= config.bin %> site:restore acme'];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };

  async run(): Promise<SoftDeleteResult> {
    const { args, flags } = await this.parse(SiteRestore);
    const ctx = await this.openContext(flags);
    const result = await restoreSite(ctx, { slug: args.slug });
    if (!this.jsonEnabled()) {
      this.log(result.changed ? `Restored site ${result.site.slug}.` : `Site ${result.site.slug} is not deleted: nothing changed.`);
      this.log(renderSite(result.site));
    }
    return result;
  }
}
