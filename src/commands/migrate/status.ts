import { Flags } from '@oclif/core';
import { IndigoCommand, migrationsDirFlag } from '../../cli/base-command.js';
import { countOf } from '../../lib/labels.js';
import { out, renderTable } from '../../cli/output.js';
import { parseSiteList } from '../../lib/migrations/history.js';
import { siteMigrationStatus, type MigrationStatusReport } from '../../lib/migrations/status.js';

export default class MigrateStatus extends IndigoCommand {
  static summary = 'Per site, the site migrations applied and pending';
  static examples = ['<%= config.bin %> migrate:status', '<%= config.bin %> migrate:status --pending --json'];
  static flags = {
    pending: Flags.boolean({ description: 'only sites that are behind (or whose history disagrees with the files)' }),
    sites: Flags.string({ description: 'only these sites: comma-separated slugs' }),
    status: Flags.string({ options: ['active', 'all'], default: 'all', description: 'all sites, or only active ones' }),
    'migrations-dir': migrationsDirFlag,
  };

  async run(): Promise<MigrationStatusReport> {
    const { flags } = await this.parse(MigrateStatus);
    const sites = flags.sites === undefined ? undefined : parseSiteList(flags.sites);
    const ctx = await this.openContext(flags);
    const report = await siteMigrationStatus(ctx, { sites, status: flags.status as 'active' | 'all', pendingOnly: flags.pending, migrationsDir: flags['migrations-dir'] });
    if (!this.jsonEnabled()) {
      if (report.sites.length > 0) {
        this.log(renderTable(['site', 'schema', 'state', 'applied', 'last applied', 'pending'], report.sites.map((site) => [
          site.slug,
          site.schemaName,
          site.state === 'up-to-date' ? out.green(site.state) : site.state === 'behind' ? out.yellow(site.state) : out.red(site.state),
          site.applied.length,
          site.applied.at(-1)?.name ?? null,
          site.problem ?? (site.pending.join(', ') || null),
        ])));
      }
      const { summary } = report;
      this.log(`${countOf(summary.upToDate, 'site')} up to date, ${summary.behind} behind${summary.invalid ? `, ${summary.invalid} with a history that disagrees with the files` : ''} (${countOf(report.migrations.length, 'migration')} in ${report.migrationsDir})`);
    }
    return report;
  }
}
