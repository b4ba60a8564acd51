import { Flags } from '@oclif/core';
import { IndigoCommand, migrationsDirFlag } from '../../cli/base-command.js';
import { migrateProgressMode, runWithMigrateProgress } from '../../cli/migrate-progress.js';
import { out, renderTable } from '../../cli/output.js';
import { ExitCode } from '../../lib/errors.js';
import { migrateSites, resolveMigrateSitesOptions, type MigrateSitesReport } from '../../lib/migrations/runner.js';

export default class MigrateSites extends IndigoCommand {
  static summary = 'Apply pending site migrations to every site schema, in parallel, one transaction per site';
  static description = `Each site's pending migrations and their history rows run in one transaction, so a site is either fully migrated or untouched. A failing site does not stop the others; the exit code is 0 when every site is migrated or up to date and 5 when any failed or was skipped. Running it again retries only what is still pending. Before any change every site's history is checked against the migration files (an edited, missing or misordered file stops the run with exit 4). Only one migrate:sites runs per database at a time: a second one waits, or exits 4 with --no-wait.`;
  static examples = [
    '<%= config.bin %> migrate:sites',
    '<%= config.bin %> migrate:sites --concurrency 8 --json',
    '<%= config.bin %> migrate:sites --sites acme,beta --dry-run',
    '<%= config.bin %> migrate:sites --lock-timeout 2s --retries 5 --no-wait',
  ];
  protected idleTimeoutSeconds = 1;

  static flags = {
    concurrency: Flags.integer({ char: 'c', description: 'sites migrated at once (default: twice the CPU cores, 2 to 8); uses this many connections plus one' }),
    sites: Flags.string({ description: 'only these sites: comma-separated slugs' }),
    status: Flags.string({ options: ['active', 'all'], default: 'all', description: 'all sites (suspended and soft-deleted included), or only active ones' }),
    'dry-run': Flags.boolean({ description: 'print which migrations would run on each site and change nothing' }),
    'lock-timeout': Flags.string({ default: '5s', description: 'lock_timeout of each statement (e.g. 500ms, 5s; 0 waits forever); a site that hits it is retried' }),
    'statement-timeout': Flags.string({ default: '0', description: 'statement_timeout of each statement (0: none)' }),
    retries: Flags.integer({ default: 3, description: 'attempts after a lock timeout, deadlock or dropped connection, with backoff, before a site counts as failed' }),
    'fail-fast': Flags.boolean({ description: 'start no more sites after the first failure (the rest are reported as skipped)' }),
    wait: Flags.boolean({ default: true, allowNo: true, description: 'queue behind a migrate:sites already running (--no-wait: exit 4 at once, naming it)' }),
    'migrations-dir': migrationsDirFlag,
  };

  async run(): Promise<MigrateSitesReport> {
    const { flags } = await this.parse(MigrateSites);
    // Validate before connecting: bad input never touches the database.
    const options = resolveMigrateSitesOptions({
      concurrency: flags.concurrency,
      sites: flags.sites === undefined ? undefined : flags.sites.split(','),
      status: flags.status as 'active' | 'all',
      dryRun: flags['dry-run'],
      lockTimeout: flags['lock-timeout'],
      statementTimeout: flags['statement-timeout'],
      retries: flags.retries,
      failFast: flags['fail-fast'],
      wait: flags.wait,
      migrationsDir: flags['migrations-dir'],
    });
    const ctx = await this.openContext(flags);
    const report = await runWithMigrateProgress(migrateProgressMode(this.jsonEnabled()), (onEvent) => migrateSites(ctx, { ...options, onEvent }));
    if (!this.jsonEnabled()) this.render(report);
    if (!report.ok) process.exitCode = ExitCode.partialFailure;
    return report;
  }

  private render(report: MigrateSitesReport): void {
    const { summary } = report;
    if (report.dryRun) {
      for (const site of report.sites.filter((s) => s.status === 'pending')) this.log(`${site.slug} (${site.schemaName}): ${site.pending.join(', ')}`);
      this.log(`Dry run: ${summary.pending} of ${summary.sites} sites would be migrated, ${summary.upToDate} up to date${summary.failed ? `, ${summary.failed} cannot be` : ''}; nothing was changed.`);
    } else {
      const seconds = report.durationMs / 1000;
      this.log(`${summary.migrated} migrated, ${summary.upToDate} up to date, ${summary.failed} failed, ${summary.skipped} skipped — ${summary.sites} sites in ${seconds.toFixed(1)} s` +
        (summary.migrated > 0 ? ` (${(summary.migrated / seconds).toFixed(0)} sites/s)` : ''));
    }
    const problems = report.sites.filter((site) => site.status === 'failed' || site.status === 'skipped');
    if (problems.length > 0) {
      this.log(renderTable(['site', 'schema', 'outcome', 'migration', 'error'], problems.map((site) => [
        site.slug, site.schemaName, site.status, site.error?.migration ?? null, site.error ? `${site.error.message}${site.error.code ? ` (${site.error.code})` : ''}` : site.reason,
      ])));
    }
    if (report.stopped) this.log(out.yellow(`Stopped early: ${report.stopped.message}`));
  }
}
