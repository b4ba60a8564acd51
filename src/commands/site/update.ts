import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { renderSite } from '../../cli/site-view.js';
import { parseSettingAssignment, updateSite } from '../../lib/sites/sites.js';
import type { Site } from '../../lib/sites/types.js';

export default class SiteUpdate extends IndigoCommand {
  static summary = "Change a site's name or settings";
  static examples = [
    '<%= config.bin %> site:update acme --name "Acme Inc"',
    '<%= config.bin %> site:update acme --setting theme=dark --setting postsPerPage=20 --setting legacy=null',
  ];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };
  static flags = {
    name: Flags.string({ description: 'new display name' }),
    setting: Flags.string({ multiple: true, description: 'key=value (JSON values are parsed; value null removes the key)' }),
  };

  async run(): Promise<{ site: Site; changed: string[] }> {
    const { args, flags } = await this.parse(SiteUpdate);
    const settings = flags.setting ? Object.fromEntries(flags.setting.map(parseSettingAssignment)) : undefined;
    const ctx = await this.openContext(flags);
    const result = await updateSite(ctx, { slug: args.slug, name: flags.name, settings });
    if (!this.jsonEnabled()) {
      this.log(result.changed.length ? `Updated ${result.changed.join(', ')}.` : 'Nothing changed.');
      this.log(renderSite(result.site));
    }
    return result;
  }
}
