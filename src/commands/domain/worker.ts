import { Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { checkFlags, parseTimeoutFlag } from '../../cli/domain-view.js';
import { err, renderRecord } from '../../cli/output.js';
import { parseDuration } from '../../lib/duration.js';
import { startDnsVerificationWorker, type DnsVerificationWorkerSummary } from '../../lib/domains/worker.js';

export default class DomainWorker extends IndigoCommand {
  static summary = 'Run domain verification in a loop until SIGTERM or SIGINT';
  static description =
    'Each pass does what domain:verify --all does, except that verified domains are re-checked only every --recheck; then the worker waits --interval. Any number of workers and cron runs may share a network: a domain is never checked by two at once. On SIGTERM or SIGINT the worker claims nothing more, finishes the checks in flight, releases the rest and exits 0.';
  static examples = ['<%= config.bin %> domain:worker', '<%= config.bin %> domain:worker --interval 30s --recheck 6h'];
  static flags = {
    interval: Flags.string({ default: '60s', description: 'pause between passes, e.g. 60s, 5m' }),
    recheck: Flags.string({ default: '1h', description: 'how often a verified domain is re-checked, e.g. 1h' }),
    ...checkFlags,
  };

  async run(): Promise<DnsVerificationWorkerSummary> {
    const { flags } = await this.parse(DomainWorker);
    const intervalMs = parseDuration(flags.interval, '--interval');
    const recheckAfterMs = parseDuration(flags.recheck, '--recheck');
    const timeoutMs = parseTimeoutFlag(flags.timeout);
    const ctx = await this.openContext(flags);

    const controller = new AbortController();
    const stop = (signal: NodeJS.Signals) => {
      this.stderr(`${signal}: stopping after the checks in flight…`);
      controller.abort();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      const worker = startDnsVerificationWorker(ctx, {
        intervalMs,
        recheckAfterMs,
        timeoutMs,
        concurrency: flags.concurrency,
        signal: controller.signal,
        onPass: (pass) => {
          const changes = Object.entries(pass.transitions).filter(([, count]) => count > 0).map(([transition, count]) => `${count} ${transition}`);
          this.stderr(`${new Date().toISOString()} checked ${pass.checked} domain${pass.checked === 1 ? "" : "s"} in ${pass.durationMs} ms${changes.length ? `; ${changes.join(', ')}` : ''}${pass.incomplete ? `; ${pass.incomplete} without a DNS answer` : ''}`);
        },
        onError: (error) => this.log$.warn(`verification pass failed, retrying after the interval: ${(error as Error).message}`),
      });
      this.stderr(err.dim(`verifying domains every ${flags.interval} (verified ones every ${flags.recheck}); SIGTERM or Ctrl-C stops`));
      const summary = await worker.done;
      if (!this.jsonEnabled()) {
        this.log(renderRecord([
          ['passes', summary.passes],
          ['failed passes', summary.failedPasses],
          ['domains checked', summary.checked],
          ['without a DNS answer', summary.incomplete],
          ['newly verified', summary.transitions.verified],
          ['failed', summary.transitions.failed],
          ['expired', summary.transitions.expired],
        ]));
      }
      return summary;
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
  }
}
