import type { MigrateSitesEvent, MigrateSitesProgress, MigrateSitesReport, SiteOutcome } from '../lib/migrations/runner.js';
import { err } from './output.js';

export type MigrateProgressMode = 'json' | 'tty' | 'plain';

/**
 * How migrate:sites shows progress: nothing with --json (stdout carries only the report); a listr2
 * view with one overall bar on an interactive terminal; otherwise (CI, pipes) plain lines on
 * stderr, one per finished site plus a summary line every `summaryEveryMs`.
 */
export function migrateProgressMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): MigrateProgressMode {
  if (json) return 'json';
  return stream.isTTY && !process.env.CI && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

type Run = (onEvent: (event: MigrateSitesEvent) => void) => Promise<MigrateSitesReport>;

export async function runWithMigrateProgress(mode: MigrateProgressMode, run: Run, options: { summaryEveryMs?: number } = {}): Promise<MigrateSitesReport> {
  if (mode === 'json') return run(() => {});
  if (mode === 'plain') return runWithPlainLines(run, options.summaryEveryMs ?? 5000);
  return runWithListr(run);
}

/** Counts, rate and ETA from the runner's events. */
class ProgressTracker {
  progress: MigrateSitesProgress = { total: 0, done: 0, migrated: 0, failed: 0, skipped: 0, inFlight: 0 };
  private firstStart = 0;
  readonly inFlight = new Map<string, string>();

  update(event: MigrateSitesEvent): void {
    if (event.type === 'lock-wait') return;
    this.progress = event.progress;
    if (event.type === 'site-start') {
      this.firstStart ||= performance.now();
      this.inFlight.set(event.site.slug, event.migrations.join(', '));
    } else if (event.type === 'site-retry') {
      this.inFlight.delete(event.site.slug);
    } else if (event.type === 'site-done') {
      this.inFlight.delete(event.outcome.slug);
    }
  }

  /** Sites per second since the first site started. */
  rate(): number {
    const seconds = this.firstStart ? (performance.now() - this.firstStart) / 1000 : 0;
    return seconds > 0 ? this.progress.done / seconds : 0;
  }

  summary(): string {
    const { done, total, failed, inFlight } = this.progress;
    const rate = this.rate();
    const eta = rate > 0 && done < total ? ` · ETA ${formatSeconds((total - done) / rate)}` : '';
    return `${done}/${total} sites · ${failed} failed · ${inFlight} in flight · ${rate.toFixed(rate < 10 ? 1 : 0)} sites/s${eta}`;
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.ceil(seconds - minutes * 60)).padStart(2, '0')}s`;
}

function outcomeLine(outcome: SiteOutcome, progress: MigrateSitesProgress): string {
  const counter = `[${progress.done}/${progress.total}]`;
  switch (outcome.status) {
    case 'migrated':
      return `${counter} migrated ${outcome.slug}: ${outcome.applied.join(', ')} (${outcome.durationMs} ms${outcome.attempts > 1 ? `, ${outcome.attempts} attempts` : ''})`;
    case 'failed':
      return `${counter} FAILED ${outcome.slug}${outcome.error?.migration ? ` in ${outcome.error.migration}` : ''}: ${outcome.error?.message ?? 'unknown error'}`;
    case 'skipped':
      return `${counter} skipped ${outcome.slug}: ${outcome.reason ?? ''}`;
    default:
      return `${counter} ${outcome.slug}: ${outcome.status}`;
  }
}

function eventLine(event: MigrateSitesEvent): string | null {
  switch (event.type) {
    case 'lock-wait':
      return `waiting for the migrate:sites lock, held by ${event.description}`;
    case 'planned':
      return `${event.sites} sites: ${event.toMigrate} to migrate, ${event.upToDate} up to date`;
    case 'sites-added':
      return `${event.sites} sites created during the run: ${event.toMigrate} to migrate`;
    case 'site-retry':
      return `retrying ${event.site.slug} in ${event.delayMs} ms (attempt ${event.attempt} failed: ${event.error.message})`;
    default:
      return null;
  }
}

async function runWithPlainLines(run: Run, summaryEveryMs: number): Promise<MigrateSitesReport> {
  const tracker = new ProgressTracker();
  const write = (line: string) => process.stderr.write(`${line}\n`);
  const timer = setInterval(() => {
    if (tracker.progress.total > 0) write(`progress: ${tracker.summary()}`);
  }, summaryEveryMs);
  timer.unref();
  try {
    const report = await run((event) => {
      tracker.update(event);
      const line = event.type === 'site-done' ? outcomeLine(event.outcome, event.progress) : eventLine(event);
      if (line) write(line);
    });
    if (tracker.progress.done > 0) write(`done: ${tracker.summary()}`);
    return report;
  } finally {
    clearInterval(timer);
  }
}

const BAR_WIDTH = 24;

function bar(done: number, total: number): string {
  const filled = total > 0 ? Math.round((done / total) * BAR_WIDTH) : BAR_WIDTH;
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

/** One listr2 task: its title is the overall bar, its one output line the sites in flight (never one line per site). */
async function runWithListr(run: Run): Promise<MigrateSitesReport> {
  // Loaded only for a terminal: CI and --json runs skip its start-up cost.
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const tracker = new ProgressTracker();
  let report: MigrateSitesReport | undefined;
  const listr = new Listr(
    [
      {
        title: 'Reading site histories',
        task: async (_, task) => {
          const render = () => {
            const { done, total, failed } = tracker.progress;
            task.title = `Migrating sites ${bar(done, total)} ${tracker.summary()}${failed > 0 ? ` ${err.red('✖')}` : ''}`;
            task.output = `in flight: ${[...tracker.inFlight].map(([slug, migrations]) => `${slug} (${migrations})`).join(', ') || '-'}`;
          };
          report = await run((event) => {
            tracker.update(event);
            if (event.type === 'lock-wait') task.title = eventLine(event)!;
            else render();
          });
          task.title = `Migrated sites ${bar(tracker.progress.done, tracker.progress.total)} ${tracker.summary()}`;
        },
        rendererOptions: { outputBar: true, persistentOutput: false },
      },
    ],
    {
      renderer: 'default',
      // Progress belongs on stderr: stdout carries only the final report.
      rendererOptions: {
        logger: new ListrLogger({ useIcons: true, toStderr: [], processOutput: new ProcessOutput(process.stderr, process.stderr) }),
        showErrorMessage: false,
      },
      exitOnError: true,
      registerSignalListeners: false,
    },
  );
  await listr.run();
  return report!;
}
