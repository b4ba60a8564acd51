import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { err, renderTable } from '../../cli/output.js';
import { PartialFailureError } from '../../lib/errors.js';
import { purgeExpiredSites, type PurgeOutcome, type PurgeSitesResult } from '../../lib/lifecycle/hard-delete.js';
import { describeRedisPurge } from '../../cli/site-view.js';

export default class SitePurge extends IndigoCommand {
  static summary = 'Hard-delete every soft-deleted site whose grace period has passed (for cron)';
  static description = 'Each site is removed in its own transaction, like site:delete --hard. A site that cannot be removed (something outside its schema depends on it) is reported and the others still go; the exit code is then 5.';
  static examples = ['<%= config.bin %> site:purge --dry-run', '<%= config.bin %> site:purge --json'];
  static flags = {
    'dry-run': Flags.boolean({ description: 'list what would be removed, change nothing' }),
  };

  async run(): Promise<PurgeSitesResult> {
    const { flags } = await this.parse(SitePurge);
    const ctx = await this.openContext(flags);
    const result = await purgeExpiredSites(ctx, {
      dryRun: flags['dry-run'],
      // Straight to stderr: progress lines stay visible with --json too (oclif mutes logToStderr then).
      onSite: (site) => process.stderr.write(`${err.dim('purge:')} ${site.slug} ${site.outcome}${'error' in site ? `: ${site.error}` : ''}\n`),
    });
    if (!this.jsonEnabled()) {
      if (result.sites.length === 0) this.log('No soft-deleted site is due for purging.');
      else {
        this.log(renderTable(['site', 'outcome', 'tables', 'rows', 'domains', 'members', 'note'], result.sites.map(purgeRow)));
        this.log(result.dryRun ? `${result.sites.length} site(s) would be purged (dry run: nothing changed).` : `${result.purged} purged, ${result.failed} failed.`);
      }
    }
    if (result.failed > 0) {
      throw new PartialFailureError(`${result.failed} of ${result.sites.length} sites due could not be purged`, { result });
    }
    return result;
  }
}

function purgeRow(site: PurgeOutcome): unknown[] {
  switch (site.outcome) {
    case 'purged':
      return [site.slug, 'purged', site.tables.length, site.rows, site.domains.length, site.members.total, `redis: ${describeRedisPurge(site.redis)}`];
    case 'would-purge':
      return [site.slug, 'would purge', site.tables.length, site.rows, site.domains.length, site.members.total,
        site.blockedBy.length ? `blocked by ${[...new Set(site.blockedBy.map((d) => d.object))].join(', ')}` : null];
    case 'skipped':
      return [site.slug, 'skipped', null, null, null, null, site.reason];
    case 'failed':
      return [site.slug, 'failed', null, null, null, null, site.error];
  }
}
