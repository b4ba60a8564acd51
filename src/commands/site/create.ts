import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { countOf } from '../../lib/labels.js';
import { canPrompt, missingValue, input } from '../../cli/interactive.js';
import { renderSite } from '../../cli/site-view.js';
import { createSite, type CreateSiteResult } from '../../lib/sites/sites.js';
import { checkSlug, nameFromSlug, validateSlug } from '../../lib/sites/slug.js';

export default class SiteCreate extends IndigoCommand {
  static summary = 'Create a site: its row, its schema and all site migrations, in one transaction';
  static examples = ['<%= config.bin %> site:create acme', '<%= config.bin %> site:create acme-corp --name "Acme Corporation" --json'];
  static args = {
    slug: Args.string({ description: 'lowercase letters, digits and single hyphens, starting with a letter' }),
  };
  static flags = {
    name: Flags.string({ description: 'display name (default: from the slug, acme-corp → Acme Corp)' }),
  };

  async run(): Promise<CreateSiteResult> {
    const { args, flags } = await this.parse(SiteCreate);
    let { slug } = args;
    let { name } = flags;
    if (slug === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue('argument SLUG', 'indigo-sites site:create SLUG');
      slug = await input({ message: 'Slug', validate: (value) => { const check = checkSlug(value); return check.ok || check.rule; } });
      name ??= await input({ message: 'Name', default: nameFromSlug(slug) });
    }
    // Validate before connecting: bad input never touches the database.
    validateSlug(slug);
    const ctx = await this.openContext(flags);
    const result = await createSite(ctx, { slug, name });
    if (!this.jsonEnabled()) {
      this.log(`Created site ${result.site.slug} (${countOf(result.migrationsApplied.length, 'migration')} applied).`);
      this.log(renderSite(result.site));
    }
    return result;
  }
}
