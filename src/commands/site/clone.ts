import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { createCloneProgress } from '../../cli/clone-progress.js';
import { canPrompt, missingValue, input } from '../../cli/interactive.js';
import { renderRecord } from '../../cli/output.js';
import { renderSite } from '../../cli/site-view.js';
import { cloneSite, type CloneSiteResult } from '../../lib/lifecycle/clone.js';
import { validateSiteName } from '../../lib/sites/sites.js';
import { checkSlug, validateSlug } from '../../lib/sites/slug.js';

export default class SiteClone extends IndigoCommand {
  static summary = "Create a new site as a copy of another: its schema's tables, indexes, constraints, sequences, migration history and rows";
  static description = 'Runs in one transaction (an interruption leaves nothing behind). Nothing in the clone refers to the source: its sequences continue from the source\'s values and its foreign keys and defaults point inside the clone. Domains are not copied; members only with --with-members. The source is locked against writes while it is copied.';
  static examples = [
    '<%= config.bin %> site:clone acme acme-staging',
    '<%= config.bin %> site:clone acme demo --name "Demo" --schema-only',
    '<%= config.bin %> site:clone acme acme-copy --with-members --json',
  ];
  static args = {
    source: Args.string({ description: 'slug of the site to copy' }),
    target: Args.string({ description: 'slug of the new site' }),
  };
  static flags = {
    name: Flags.string({ description: 'display name of the new site (default: from its slug)' }),
    'schema-only': Flags.boolean({ description: 'copy the structure and migration history, not the rows' }),
    'with-members': Flags.boolean({ description: "also give the source's members the same roles on the clone" }),
  };

  async run(): Promise<CloneSiteResult> {
    const { args, flags } = await this.parse(SiteClone);
    let { source, target } = args;
    if (source === undefined || target === undefined) {
      if (!canPrompt(this.jsonEnabled())) throw missingValue(source === undefined ? 'argument SOURCE' : 'argument TARGET', 'indigo-sites site:clone SOURCE TARGET');
      source ??= await input({ message: 'Site to copy (slug)', validate: (value) => value.trim() !== '' || 'the slug is empty' });
      target = await input({ message: 'Slug of the new site', validate: (value) => { const check = checkSlug(value); return check.ok || check.rule; } });
    }
    // Validate before connecting: bad input never touches the database.
    validateSlug(target);
    if (flags.name !== undefined) validateSiteName(flags.name);
    const ctx = await this.openContext(flags);
    const progress = createCloneProgress();
    let result: CloneSiteResult;
    try {
      result = await cloneSite(ctx, {
        source,
        target,
        name: flags.name,
        schemaOnly: flags['schema-only'],
        withMembers: flags['with-members'],
        onProgress: (event) => progress.onProgress(event),
      });
    } catch (error) {
      await progress.finish(error);
      throw error;
    }
    await progress.finish();
    if (!this.jsonEnabled()) {
      this.log(`Cloned site ${result.source.slug} into ${result.site.slug}.`);
      this.log(renderSite(result.site, [
        ['copied', `${result.tables.length} tables, ${result.rows} rows, ${result.indexes} indexes, ${result.constraints} constraints, ${result.foreignKeys} foreign keys, ${result.enums} enums, ${result.sequences} sequences`],
        ['migrations', result.migrations.join(', ') || '-'],
        ['members', result.members],
      ]));
      if (result.schemaOnly) this.log(renderRecord([['note', 'schema only: the tables are empty and their sequences start afresh']]));
    }
    return result;
  }
}
