/** What the domain commands share: flags and how domains and check reports look to people. */
import { Flags } from '@oclif/core';
import { ValidationError } from '../lib/errors.js';
import type { ChallengeRecord } from '../lib/domains/dns-check.js';
import type { DomainState, SiteDomain } from '../lib/domains/domains.js';
import { parseDuration } from '../lib/duration.js';
import { domainToDisplay, normalizeBaseDomain } from '../lib/domains/normalize.js';
import { DEFAULT_VERIFY_CONCURRENCY, MAX_VERIFY_CONCURRENCY, type DomainCheckReport } from '../lib/domains/verify.js';
import { out, renderRecord } from './output.js';

export const baseDomainFlag = Flags.string({
  env: 'INDIGO_BASE_DOMAIN',
  helpValue: 'DOMAIN',
  description: "the network's base domain: sites answer at <slug>.<base domain>",
});

/** The base domain flag (or INDIGO_BASE_DOMAIN) normalised, checked before anything connects; null when unset. */
export function parseBaseDomainFlag(value: string | undefined): string | null {
  if (value === undefined || value.trim() === '') return null;
  try {
    return normalizeBaseDomain(value);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(`--base-domain (INDIGO_BASE_DOMAIN): ${error.message}`, error.details);
    throw error;
  }
}

export const checkFlags = {
  concurrency: Flags.integer({
    min: 1,
    max: MAX_VERIFY_CONCURRENCY,
    default: DEFAULT_VERIFY_CONCURRENCY,
    description: 'DNS checks in flight at once',
  }),
  timeout: Flags.string({ default: '5s', description: "deadline of one domain's check, e.g. 5s, 1500ms" }),
};

export function parseTimeoutFlag(value: string): number {
  return parseDuration(value, '--timeout');
}

export function stateLabel(state: DomainState): string {
  return state === 'verified' ? out.green(state) : state === 'pending' ? out.yellow(state) : out.red(state);
}

/** The domain as stored, with its Unicode form when it is an IDN. */
export function domainLabel(domain: string): string {
  const display = domainToDisplay(domain);
  return display === domain ? domain : `${display} (${domain})`;
}

/** The record to publish, as fields and as one zone-file line. */
export function renderChallenge(record: ChallengeRecord): string {
  return [
    renderRecord([
      ['name', record.name],
      ['type', record.type],
      ['value', record.value],
    ]),
    '',
    `zone file:  ${record.name}. 300 IN TXT ${JSON.stringify(record.value)}`,
  ].join('\n');
}

export function renderDomain(domain: SiteDomain): string {
  return renderRecord([
    ['domain', domainLabel(domain.domain)],
    ['site', domain.siteSlug + (domain.siteDeleted ? ' (soft-deleted)' : '')],
    ['state', stateLabel(domain.verificationState) + (domain.tokenExpired ? out.red(' (token expired)') : '')],
    ['primary', domain.isPrimary ? 'yes' : 'no'],
    ['verified', domain.verifiedAt],
    ['token expires', domain.tokenExpiresAt],
    ['last checked', domain.lastCheckedAt],
    ['last error', domain.lastError],
  ]);
}

export function transitionLabel(report: Pick<DomainCheckReport, 'previousState' | 'state'>): string {
  return report.previousState === report.state ? stateLabel(report.state) : `${stateLabel(report.previousState)} → ${stateLabel(report.state)}`;
}
