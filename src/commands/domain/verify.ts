import { Args, Flags } from '@oclif/core';
import { IndigoCommand } from '../../cli/base-command.js';
import { checkFlags, domainLabel, parseTimeoutFlag, transitionLabel } from '../../cli/domain-view.js';
import { missingValue } from '../../cli/interactive.js';
import { err, out, renderRecord, renderTable } from '../../cli/output.js';
import { parseStoredDomain } from '../../lib/domains/domains.js';
import { verifyAllDomains, verifyDomain, type DomainCheckReport, type VerifyAllResult } from '../../lib/domains/verify.js';
import { ExitCode, ValidationError } from '../../lib/errors.js';

/** Rows of the human --all report beyond which only the count is printed (--json has them all). */
const SHOWN_REPORTS = 50;

export default class DomainVerify extends IndigoCommand {
  static summary = "Check a domain's DNS TXT record now, or with --all every due domain (for cron)";
  static description = [
    'DOMAIN: checks that one domain now and says exactly what DNS answered: the right value, a wrong value, no record, or a DNS error.',
    '--all: expires pending tokens older than 7 days, checks every pending domain, re-checks every verified one and retries failed ones whose token is still valid, --concurrency at a time; domains another run is checking are skipped. A verified domain becomes failed only after failing continuously for 72 hours; DNS errors (SERVFAIL, REFUSED, timeouts) change nothing.',
    'Exit status: 0 when every check got an answer from DNS (whatever it was), 5 when any could not be completed.',
  ].join('\n\n');
  static examples = [
    '<%= config.bin %> domain:verify shop.example.com',
    '<%= config.bin %> domain:verify --all',
    '<%= config.bin %> domain:verify --all --concurrency 64 --timeout 3s --json',
  ];
  static args = { domain: Args.string({ description: 'the domain to check now' }) };
  static flags = {
    all: Flags.boolean({ description: 'check every due domain' }),
    ...checkFlags,
  };

  async run(): Promise<DomainCheckReport | VerifyAllResult> {
    const { args, flags } = await this.parse(DomainVerify);
    if (args.domain !== undefined && flags.all) throw new ValidationError('give either a DOMAIN or --all, not both');
    if (args.domain === undefined && !flags.all) throw missingValue('argument DOMAIN or flag --all', 'indigo-sites domain:verify DOMAIN | --all');
    const timeoutMs = parseTimeoutFlag(flags.timeout);
    const domain = args.domain === undefined ? undefined : parseStoredDomain(args.domain);
    const ctx = await this.openContext(flags);

    if (domain !== undefined) {
      const report = await verifyDomain(ctx, { domain, timeoutMs });
      if (report.outcome === 'unknown') process.exitCode = ExitCode.partialFailure;
      if (!this.jsonEnabled()) {
        this.log(renderRecord([
          ['domain', domainLabel(report.domain)],
          ['site', report.siteSlug],
          ['state', transitionLabel(report)],
          ['found', outcomeLabel(report)],
        ]));
        this.log(`\n${report.message}`);
      }
      return report;
    }

    const progress = this.progress();
    const result = await verifyAllDomains(ctx, { concurrency: flags.concurrency, timeoutMs, onResult: progress.tick });
    progress.done();
    if (result.incomplete > 0) {
      process.exitCode = ExitCode.partialFailure;
      this.stderr(err.yellow(`${result.incomplete} of ${result.checked} checks could not be completed (no answer from DNS): exit ${ExitCode.partialFailure}`));
    }
    if (!this.jsonEnabled()) this.log(renderSummary(result));
    return result;
  }

  /** A count on stderr that rewrites itself on a terminal; nothing when piped (the summary follows). */
  private progress(): { tick: () => void; done: () => void } {
    if (!process.stderr.isTTY || this.jsonEnabled()) return { tick: () => {}, done: () => {} };
    let checked = 0;
    return {
      tick: () => {
        checked += 1;
        if (checked % 25 === 0) process.stderr.write(`\rchecked ${checked} domains…`);
      },
      done: () => {
        if (checked >= 25) process.stderr.write('\r\x1b[K');
      },
    };
  }
}

function outcomeLabel(report: DomainCheckReport): string {
  switch (report.outcome) {
    case 'verified':
      return out.green('the right value');
    case 'wrong_value':
      return out.red('a wrong value');
    case 'no_record':
      return out.red('no record');
    case 'unknown':
      return out.yellow(`a DNS error (${report.dns?.outcome === 'unknown' ? report.dns.error.code : 'unknown'})`);
    case 'expired':
      return out.red('nothing: the token has expired');
    case 'refused':
      return out.red('the right value, but a parent domain belongs to another site');
  }
}

function renderSummary(result: VerifyAllResult): string {
  const { outcomes, transitions } = result;
  const lines = [
    `Checked ${result.checked} domain${result.checked === 1 ? '' : 's'} in ${(result.durationMs / 1000).toFixed(1)}s.`,
    renderTable(['outcome', 'domains'], [
      ['right value', outcomes.verified],
      ['wrong value', outcomes.wrong_value],
      ['no record', outcomes.no_record],
      ['DNS error (nothing changed)', outcomes.unknown],
      ['token expired', outcomes.expired],
      ['refused (parent domain of another site)', outcomes.refused],
    ]),
    renderRecord([
      ['newly verified', transitions.verified],
      ['failed after the grace period', transitions.failed],
      ['expired', transitions.expired],
    ]),
  ];
  const notable = result.reports.filter((report) => report.transition !== null || report.outcome === 'unknown' || report.outcome === 'refused');
  if (notable.length > 0) {
    lines.push(renderTable(
      ['domain', 'site', 'state', 'found'],
      notable.slice(0, SHOWN_REPORTS).map((report) => [domainLabel(report.domain), report.siteSlug, transitionLabel(report), outcomeLabel(report)]),
    ));
    if (notable.length > SHOWN_REPORTS) lines.push(`… and ${notable.length - SHOWN_REPORTS} more (--json lists every domain)`);
  }
  return lines.join('\n');
}
