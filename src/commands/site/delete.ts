import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { out, renderRecord } from '../../cli/output.js';
import { canPrompt, input } from '../../cli/interactive.js';
import { describeRedisPurge, renderRemoval, renderSite } from '../../cli/site-view.js';
import { hardDeleteSite, type HardDeleteResult } from '../../lib/lifecycle/hard-delete.js';
import { parseGracePeriod, softDeleteSite, type SoftDeleteResult } from '../../lib/lifecycle/soft-delete.js';

export default class SiteDelete extends IndigoCommand {
  static summary = 'Soft-delete a site (restorable until its grace period ends), or with --hard drop it for good';
  static description = [
    'Without --hard the site is marked deleted: its schema, domains and members stay, its slug and domains stay reserved, and site:restore brings it back. site:purge removes it for good once the grace period has passed.',
    'With --hard the schema (DROP SCHEMA … CASCADE), the site row, its domains and members are removed in one transaction, then its Redis keys and queues (when REDIS_URL is set). It needs the slug typed again (at the prompt, or --confirm SLUG in scripts) and --force for a site that is not soft-deleted; it refuses when anything outside the schema (a view in public, a foreign key from another schema) depends on it.',
  ].join('\n\n');
  static examples = [
    '<%= config.bin %> site:delete acme',
    '<%= config.bin %> site:delete acme --grace 7d',
    '<%= config.bin %> site:delete acme --hard --confirm acme',
    '<%= config.bin %> site:delete acme --hard --force --confirm acme --json',
  ];
  static args = { slug: Args.string({ required: true, description: 'site slug' }) };
  static flags = {
    grace: Flags.string({ description: 'how long a soft-deleted site can be restored before site:purge removes it, e.g. 7d, 12h (default 30d)', exclusive: ['hard'] }),
    hard: Flags.boolean({ description: 'drop the site permanently instead of soft-deleting it' }),
    force: Flags.boolean({ description: 'with --hard: also for a site that is not soft-deleted', dependsOn: ['hard'] }),
    confirm: Flags.string({ description: 'with --hard: the slug again, to confirm without a prompt', dependsOn: ['hard'] }),
    // Accepted so that a script written with the usual habit gets the clear refusal below
    // ("needs its slug typed again") rather than an unknown-flag error.
    yes: Flags.boolean({ hidden: true, description: 'not enough on its own: hard delete needs --confirm SLUG' }),
  };

  async run(): Promise<SoftDeleteResult | HardDeleteResult> {
    const { args, flags } = await this.parse(SiteDelete);
    if (!flags.hard) {
      const graceSeconds = flags.grace === undefined ? undefined : parseGracePeriod(flags.grace);
      const ctx = await this.openContext(flags);
      const result = await softDeleteSite(ctx, { slug: args.slug, graceSeconds });
      if (!this.jsonEnabled()) {
        this.log(result.changed
          ? `Deleted site ${result.site.slug}; restore it with site:restore ${result.site.slug} until ${result.site.purgeAfter?.toISOString()}.`
          : `Site ${result.site.slug} is already deleted: nothing changed.`);
        this.log(renderSite(result.site));
      }
      return result;
    }

    let confirm = flags.confirm;
    if (confirm === undefined && canPrompt(this.jsonEnabled())) {
      confirm = await input({
        message: `This permanently deletes site ${args.slug}: its schema with every table and row, its domains and members. Type ${out.bold(args.slug)} to confirm`,
      });
    }
    const ctx = await this.openContext(flags);
    const result = await hardDeleteSite(ctx, { slug: args.slug, confirm, force: flags.force });
    if (!this.jsonEnabled()) {
      this.log(`Deleted site ${result.site.slug} permanently.`);
      this.log(renderRemoval(result));
      this.log(renderRecord([['redis', describeRedisPurge(result.redis)]]));
    }
    return result;
  }
}
