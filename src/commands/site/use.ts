import { Args, Flags } from '@oclif/core';
import { clearActiveSite, databaseKey, readActiveSite, storeActiveSite, type StoredActiveSite } from '../../cli/active-site.js';
import { IndigoCommand } from '../../cli/base-command.js';
import { canPrompt, missingValue, search } from '../../cli/interactive.js';
import { checkActiveSite, chooseActiveSite } from '../../lib/actor.js';
import type { IndigoContext } from '../../lib/context.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { listSites } from '../../lib/sites/sites.js';

export interface SiteUseResult {
  /** The active site after the command, or null when there is none. */
  activeSite: (StoredActiveSite & { name: string; database: string }) | null;
  /** With --clear: the active site that was forgotten, if any. */
  cleared?: StoredActiveSite | null;
}

export default class SiteUse extends IndigoCommand {
  static summary = 'Choose the active site: commands that take --site default to it';
  static description = [
    "The active site is stored per database in the CLI's config directory (INDIGO_SITES_CONFIG_DIR overrides it).",
    'With no argument on a terminal, offers a searchable list of sites. A site deleted since it was chosen is reported, never used.',
  ].join(' ');
  static examples = ['<%= config.bin %> site:use acme', '<%= config.bin %> site:use', '<%= config.bin %> site:use --show --json', '<%= config.bin %> site:use --clear'];
  static args = { slug: Args.string({ description: 'slug of the site to work on' }) };
  static flags = {
    clear: Flags.boolean({ description: 'forget the active site', exclusive: ['show'] }),
    show: Flags.boolean({ description: 'print the active site (and check that it still exists)', exclusive: ['clear'] }),
  };

  async run(): Promise<SiteUseResult> {
    const { args, flags } = await this.parse(SiteUse);
    const database = databaseKey(flags);
    const { configDir } = this.config;
    if ((flags.clear || flags.show) && args.slug !== undefined) {
      throw new ValidationError(`site:use ${flags.clear ? '--clear' : '--show'} takes no SLUG`);
    }
    if (flags.clear) {
      const cleared = await clearActiveSite(configDir, database);
      if (!this.jsonEnabled()) this.log(cleared ? `Forgot the active site ${cleared.slug} of ${database}.` : `No active site for ${database}: nothing to forget.`);
      return { activeSite: null, cleared };
    }
    if (flags.show) {
      const stored = await readActiveSite(configDir, database);
      if (!stored) {
        if (!this.jsonEnabled()) this.log(`No active site for ${database}.`);
        return { activeSite: null };
      }
      const ctx = await this.openContext(flags);
      const site = await checkActiveSite(ctx, stored);
      if (!this.jsonEnabled()) this.log(`Active site: ${site.slug} (${site.name}) on ${database}, chosen ${stored.setAt}.`);
      return { activeSite: { ...stored, name: site.name, database } };
    }
    if (args.slug === undefined && !canPrompt(this.jsonEnabled())) {
      throw missingValue('argument SLUG', 'indigo-sites site:use SLUG (or --show, --clear)');
    }
    const ctx = await this.openContext(flags);
    const slug = args.slug ?? (await this.pickSite(ctx, (await readActiveSite(configDir, database).catch(() => null))?.slug));
    const site = await chooseActiveSite(ctx, slug);
    const stored = await storeActiveSite(configDir, database, { slug: site.slug, siteId: site.id });
    if (!this.jsonEnabled()) this.log(`Active site: ${site.slug} (${site.name}) on ${database}. Commands that take --site use it by default.`);
    return { activeSite: { ...stored, name: site.name, database } };
  }

  /** A searchable list of the sites that are not deleted; typing filters by slug or name. */
  private async pickSite(ctx: IndigoContext, current: string | undefined): Promise<string> {
    const sites = await listSites(ctx);
    if (sites.length === 0) throw new NotFoundError('there are no sites to choose from: create one with site:create');
    return search({
      message: 'Active site',
      pageSize: 12,
      default: sites.some((site) => site.slug === current) ? current : undefined,
      source: (term) => {
        const needle = (term ?? '').trim().toLowerCase();
        return sites
          .filter((site) => !needle || site.slug.includes(needle) || site.name.toLowerCase().includes(needle))
          .map((site) => ({ value: site.slug, name: site.slug === current ? `${site.slug} (active)` : site.slug, description: `${site.name} · ${site.status}` }));
      },
    });
  }
}
