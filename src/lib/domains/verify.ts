/**
 * Domain verification: DNS TXT checks and the state machine they drive.
 *
 *   pending  ──right value──▶ verified ──no record / wrong value for longer than the grace period──▶ failed
 *   pending  ──token expired──▶ failed            failed (token still valid) ──right value──▶ verified
 *
 * A check that gets no answer (SERVFAIL, REFUSED, timeout) changes nothing but last_checked_at
 * and last_error, so a DNS outage never unverifies domains. A verified domain's grace period
 * counts from first_failed_at, which the first definite failure sets and a good answer clears.
 *
 * Concurrency: a check first claims its domain (check_claim + a lease in check_claimed_until,
 * taken with FOR UPDATE SKIP LOCKED), so two runs or workers never check one domain at once.
 * Its result is written by an UPDATE conditional on that claim, the token and the state it saw;
 * a transition's audit entry is written in the same transaction only when that UPDATE matched,
 * so each transition is audited exactly once however many runs overlap.
 */
import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit.js';
import type { Queryable } from '../db/connect.js';
import type { IndigoContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { notifySiteChanged } from '../sites/queries.js';
import { checkDomainTxt, DEFAULT_CHECK_TIMEOUT_MS, type DnsCheckOutcome, type DnsCheckResult, type TxtResolver } from './dns-check.js';
import { createDnsResolver, dnsServersFromEnv } from './dns-config.js';
import {
  DEFAULT_TOKEN_TTL_MS,
  findDomain,
  findTakeoverConflict,
  parseStoredDomain,
  takeoverMessage,
  tokenExpiredMessage,
  type DomainState,
} from './domains.js';
import { checkMilliseconds, formatDuration } from '../duration.js';

export const DEFAULT_GRACE_PERIOD_MS = 72 * 3_600_000;
export const DEFAULT_VERIFY_CONCURRENCY = 32;
export const MAX_VERIFY_CONCURRENCY = 256;

/** `expired`: the token ran out before verification; `refused`: the right record, but another site verified a parent domain. */
export type DomainCheckOutcome = DnsCheckOutcome | 'expired' | 'refused';
export type DomainTransition = 'verified' | 'failed' | 'expired';

export interface DomainCheckReport {
  domain: string;
  siteId: number;
  siteSlug: string;
  previousState: DomainState;
  state: DomainState;
  outcome: DomainCheckOutcome;
  transition: DomainTransition | null;
  /** False when nothing was written: the domain was removed, renewed or re-claimed during the check, or its token had expired. */
  recorded: boolean;
  /** What DNS answered and what follows from it, for people. */
  message: string;
  firstFailedAt: Date | null;
  /** A verified domain that is failing becomes `failed` at this time unless a check succeeds first. */
  failsAt: Date | null;
  /** The DNS check itself; null when none was made (expired token). */
  dns: DnsCheckResult | null;
}

export interface VerificationOptions {
  /** Shared by every check of a run; default: INDIGO_DNS_SERVERS or the system's servers. */
  resolver?: TxtResolver;
  /** Deadline of one domain's check, CNAMEs included. */
  timeoutMs?: number;
  /** How long a verified domain may fail continuously before it becomes `failed`. */
  gracePeriodMs?: number;
  /** Lifetime of the token a domain that just failed gets for being fixed and re-verified. */
  tokenTtlMs?: number;
}

export interface VerifyAllOptions extends VerificationOptions {
  /** Checks in flight at once. */
  concurrency?: number;
  /** Verified domains checked more recently than this are left for a later pass; default 0: every pass re-checks them. */
  recheckAfterMs?: number;
  /** Stops claiming domains; checks in flight finish and are recorded, claimed but unstarted ones are released. */
  signal?: AbortSignal;
  onResult?: (report: DomainCheckReport) => void;
}

export interface VerifyAllResult {
  startedAt: Date;
  durationMs: number;
  /** Domains looked at: DNS checks made plus tokens expired. */
  checked: number;
  outcomes: Record<DomainCheckOutcome, number>;
  transitions: Record<DomainTransition, number>;
  /** Checks that could not be completed (DNS gave no answer): the command exits 5 when there are any. */
  incomplete: number;
  /** The signal stopped the pass before every due domain was checked. */
  stoppedEarly: boolean;
  reports: DomainCheckReport[];
}

/** Validated options of a verification run (see `verificationSettings`). */
export interface VerificationSettings {
  resolver: TxtResolver;
  timeoutMs: number;
  gracePeriodMs: number;
  tokenTtlMs: number;
  concurrency: number;
  recheckAfterMs: number;
}

interface Run extends VerificationSettings {
  /** Written to check_claim: what this run holds. */
  id: string;
  /** PostgreSQL's now() at the start of the pass, as text to keep its microseconds: each domain is checked once per pass. */
  startedAt: string;
  startedAtDate: Date;
  leaseSeconds: number;
}

interface ClaimedDomain {
  id: number;
  siteId: number;
  siteSlug: string;
  domain: string;
  token: string;
  state: DomainState;
  firstFailedAt: Date | null;
  /** The domain has been failing for longer than the grace period (by the database's clock). */
  graceOver: boolean;
}

interface Decision {
  state: DomainState;
  transition: DomainTransition | null;
  firstFailedAt: 'clear' | 'start' | 'keep';
  lastError: string | null;
  outcome: DomainCheckOutcome;
  refusal?: string;
}

const emptyOutcomes = (): Record<DomainCheckOutcome, number> => ({ verified: 0, wrong_value: 0, no_record: 0, unknown: 0, expired: 0, refused: 0 });

/** Validates options once, before anything is read. */
export function verificationSettings(options: VerifyAllOptions = {}): VerificationSettings {
  const concurrency = options.concurrency ?? DEFAULT_VERIFY_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_VERIFY_CONCURRENCY) {
    throw new ValidationError(`the concurrency must be a whole number from 1 to ${MAX_VERIFY_CONCURRENCY} (got ${concurrency})`, { concurrency });
  }
  return {
    concurrency,
    timeoutMs: checkMilliseconds(options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, 'the check timeout'),
    gracePeriodMs: checkMilliseconds(options.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS, 'the grace period', 0),
    tokenTtlMs: checkMilliseconds(options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS, 'the token lifetime', 60_000),
    recheckAfterMs: checkMilliseconds(options.recheckAfterMs ?? 0, 'the re-check interval', 0),
    resolver: options.resolver ?? createDnsResolver({ servers: dnsServersFromEnv() }),
  };
}

async function startRun(sql: Queryable, settings: VerificationSettings): Promise<Run> {
  const [{ startedAt, startedAtDate }] = await sql<{ startedAt: string; startedAtDate: Date }[]>`
    select now()::text as "startedAt", now() as "startedAtDate"`;
  // A claimed domain waits in the queue for at most about two checks before its own: a lease of
  // three deadlines plus a minute outlives it; a dead holder's claims lapse after that.
  const leaseSeconds = Math.ceil((3 * settings.timeoutMs + 60_000) / 1000);
  return { ...settings, id: randomUUID(), startedAt, startedAtDate, leaseSeconds };
}

const seconds = (ms: number) => ms / 1000;

function claimedColumns(sql: Queryable, run: Run) {
  return sql`d.id, d.site_id as "siteId", s.slug as "siteSlug", d.domain, d.token, d.verification_state as "state",
    d.first_failed_at as "firstFailedAt",
    coalesce(d.first_failed_at <= now() - make_interval(secs => ${seconds(run.gracePeriodMs)}), false) as "graceOver"`;
}

const unclaimed = (sql: Queryable) => sql`(d.check_claimed_until is null or d.check_claimed_until < now())`;

/** Claims up to `limit` domains due in this pass, least recently checked first, skipping rows other runs hold. */
async function claimDueDomains(sql: Queryable, run: Run, limit: number): Promise<ClaimedDomain[]> {
  return sql<ClaimedDomain[]>`
    with due as (
      select d.id from public.site_domains d join public.sites s on s.id = d.site_id
      where s.deleted_at is null and ${unclaimed(sql)}
        and (d.last_checked_at is null or d.last_checked_at < ${run.startedAt}::timestamptz)
        and case when d.verification_state = 'verified'
          then d.last_checked_at is null or d.last_checked_at <= now() - make_interval(secs => ${seconds(run.recheckAfterMs)})
          else d.token_expires_at > now() end
      order by d.last_checked_at nulls first, d.id
      limit ${limit}
      for update of d skip locked
    )
    update public.site_domains d set check_claim = ${run.id}, check_claimed_until = now() + make_interval(secs => ${run.leaseSeconds})
    from due, public.sites s
    where d.id = due.id and s.id = d.site_id
    returning ${claimedColumns(sql, run)}`;
}

async function claimDomain(sql: Queryable, run: Run, domainId: number): Promise<ClaimedDomain | null> {
  const [claim] = await sql<ClaimedDomain[]>`
    update public.site_domains d set check_claim = ${run.id}, check_claimed_until = now() + make_interval(secs => ${run.leaseSeconds})
    from public.sites s
    where d.id = ${domainId} and s.id = d.site_id and ${unclaimed(sql)}
    returning ${claimedColumns(sql, run)}`;
  return claim ?? null;
}

async function releaseClaims(sql: Queryable, run: Run): Promise<void> {
  await sql`update public.site_domains set check_claim = null, check_claimed_until = null where check_claim = ${run.id}`;
}

function decide(claim: ClaimedDomain, dns: DnsCheckResult, takeover: { domain: string; siteSlug: string } | null): Decision {
  const keep = { state: claim.state, transition: null, firstFailedAt: 'keep' } as const;
  switch (dns.outcome) {
    case 'verified':
      if (claim.state === 'verified') return { ...keep, firstFailedAt: 'clear', lastError: null, outcome: 'verified' };
      if (takeover) {
        const refusal = takeoverMessage(claim.domain, takeover);
        return { ...keep, lastError: refusal, outcome: 'refused', refusal };
      }
      return { state: 'verified', transition: 'verified', firstFailedAt: 'clear', lastError: null, outcome: 'verified' };
    case 'wrong_value':
    case 'no_record':
      if (claim.state !== 'verified') return { ...keep, lastError: dns.message, outcome: dns.outcome };
      if (claim.firstFailedAt === null) return { ...keep, firstFailedAt: 'start', lastError: dns.message, outcome: dns.outcome };
      if (claim.graceOver) return { state: 'failed', transition: 'failed', firstFailedAt: 'keep', lastError: dns.message, outcome: dns.outcome };
      return { ...keep, lastError: dns.message, outcome: dns.outcome };
    case 'unknown':
      return { ...keep, lastError: dns.message, outcome: 'unknown' };
  }
}

interface WrittenState {
  id: number;
  state: DomainState;
  firstFailedAt: Date | null;
  failsAt: Date | null;
}

interface CheckResult {
  claim: ClaimedDomain;
  decision: Decision;
}

/**
 * Writes check results whose domain is still as the check saw it (same claim, token and state)
 * and releases their claims, in one statement however many there are. Returns what was written,
 * by domain id; a domain removed or renewed meanwhile is missing: nothing was written for it.
 */
async function writeResults(sql: Queryable, run: Run, results: readonly CheckResult[]): Promise<Map<number, WrittenState>> {
  const column = <T>(pick: (result: CheckResult) => T) => results.map(pick);
  const rows = await sql<WrittenState[]>`
    update public.site_domains d set
      verification_state = v.new_state::public.indigo_domain_state,
      verified_at = case when v.transition = 'verified' then now() else d.verified_at end,
      token_expires_at = case v.transition
        when 'verified' then null
        when 'failed' then now() + make_interval(secs => ${seconds(run.tokenTtlMs)})
        else d.token_expires_at end,
      first_failed_at = case v.first_failed when 'clear' then null when 'start' then coalesce(d.first_failed_at, now()) else d.first_failed_at end,
      last_checked_at = now(),
      last_error = v.last_error,
      check_claim = null,
      check_claimed_until = null
    from unnest(
      ${column((r) => r.claim.id)}::bigint[], ${column((r) => r.claim.token)}::text[], ${column((r) => r.claim.state)}::text[],
      ${column((r) => r.decision.state)}::text[], ${column((r) => r.decision.transition ?? '')}::text[],
      ${column((r) => r.decision.firstFailedAt)}::text[], ${column((r) => r.decision.lastError)}::text[]
    ) as v(id, token, state, new_state, transition, first_failed, last_error)
    where d.id = v.id and d.check_claim = ${run.id} and d.token = v.token and d.verification_state = v.state::public.indigo_domain_state
    returning d.id, d.verification_state as state, d.first_failed_at as "firstFailedAt",
      case when d.verification_state = 'verified' and d.first_failed_at is not null
        then d.first_failed_at + make_interval(secs => ${seconds(run.gracePeriodMs)}) end as "failsAt"`;
  return new Map(rows.map((row) => [row.id, row]));
}

/**
 * Writes a batch of results. Transitions go in one transaction with their audit entries and the
 * resolver notifications, written only for the domains the conditional UPDATE matched: each
 * transition is audited exactly once, and never without the change it records.
 */
async function writeBatch(ctx: IndigoContext, run: Run, results: readonly CheckResult[]): Promise<Map<number, WrittenState>> {
  if (results.every((result) => result.decision.transition === null)) return writeResults(ctx.sql, run, results);
  return ctx.sql.begin(async (tx) => {
    const written = await writeResults(tx, run, results);
    const changedSites = new Map<number, { id: number; slug: string }>();
    for (const { claim, decision } of results) {
      const row = written.get(claim.id);
      if (!row || decision.transition === null) continue;
      const site = { id: claim.siteId, slug: claim.siteSlug };
      await recordAudit(tx, ctx.actor, {
        action: `domain.${decision.transition}`,
        site,
        details: { domain: claim.domain, from: claim.state, to: row.state, reason: decision.lastError ?? 'the expected TXT record was found' },
      });
      changedSites.set(site.id, site);
    }
    for (const site of changedSites.values()) await notifySiteChanged(tx, site);
    return written;
  });
}

type ResultWriter = (result: CheckResult) => Promise<WrittenState | null>;

/**
 * Writes results in batches: while one batch is being written the next accumulates, so
 * thousands of checks cost a few hundred commits, not thousands of fsyncs.
 */
function createResultWriter(ctx: IndigoContext, run: Run): ResultWriter {
  let pending: { result: CheckResult; resolve: (row: WrittenState | null) => void; reject: (error: unknown) => void }[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        const written = await writeBatch(ctx, run, batch.map((item) => item.result));
        for (const item of batch) item.resolve(written.get(item.result.claim.id) ?? null);
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    flushing = false;
  };
  return (result) =>
    new Promise((resolve, reject) => {
      pending.push({ result, resolve, reject });
      if (!flushing) void flush();
    });
}

function describe(claim: ClaimedDomain, decision: Decision, dns: DnsCheckResult, written: WrittenState | null, run: Run): string {
  const grace = formatDuration(run.gracePeriodMs);
  if (decision.refusal) return `${dns.message} Not verified: ${decision.refusal}.`;
  if (written === null) {
    return `${dns.message} Not recorded: ${claim.domain} was removed, renewed or checked by another process meanwhile.`;
  }
  if (decision.transition === 'verified') return `${dns.message} ${claim.domain} is now verified.`;
  if (decision.transition === 'failed') {
    return `${dns.message} It has failed since ${written.firstFailedAt?.toISOString()}, longer than the grace period (${grace}): ${claim.domain} is now failed and no longer resolves.`;
  }
  if (written.state === 'verified' && written.failsAt && (dns.outcome === 'no_record' || dns.outcome === 'wrong_value')) {
    return `${dns.message} Failing since ${written.firstFailedAt?.toISOString()}: ${claim.domain} stays verified until ${written.failsAt.toISOString()} (grace period ${grace}) unless the record is back by then.`;
  }
  return dns.message;
}

async function checkClaimed(ctx: IndigoContext, run: Run, claim: ClaimedDomain, write: ResultWriter): Promise<DomainCheckReport> {
  const dns = await checkDomainTxt({ domain: claim.domain, expectedToken: claim.token, resolver: run.resolver, timeoutMs: run.timeoutMs });
  const takeover = dns.outcome === 'verified' && claim.state !== 'verified' ? await findTakeoverConflict(ctx.sql, claim.domain, claim.siteId) : null;
  const decision = decide(claim, dns, takeover);
  const written = await write({ claim, decision });
  return {
    domain: claim.domain,
    siteId: claim.siteId,
    siteSlug: claim.siteSlug,
    previousState: claim.state,
    state: written?.state ?? claim.state,
    outcome: decision.outcome,
    transition: written ? decision.transition : null,
    recorded: written !== null,
    message: describe(claim, decision, dns, written, run),
    firstFailedAt: written ? written.firstFailedAt : claim.firstFailedAt,
    failsAt: written?.failsAt ?? null,
    dns,
  };
}

/**
 * pending → failed for tokens past their expiry (all of them, or one domain), each with its audit
 * entry. Row locks make a concurrent run wait and then find nothing left to expire.
 */
async function expirePendingTokens(ctx: IndigoContext, domainId?: number): Promise<DomainCheckReport[]> {
  return ctx.sql.begin(async (tx) => {
    const expired = await tx<{ id: number; siteId: number; siteSlug: string; domain: string; tokenExpiresAt: Date; firstFailedAt: Date | null }[]>`
      update public.site_domains d set verification_state = 'failed', last_checked_at = now(),
        last_error = 'the verification token expired before the domain was verified'
      from public.sites s
      where s.id = d.site_id and s.deleted_at is null and d.verification_state = 'pending' and d.token_expires_at <= now()
        and ${unclaimed(tx)} and ${domainId === undefined ? tx`true` : tx`d.id = ${domainId}`}
      returning d.id, d.site_id as "siteId", s.slug as "siteSlug", d.domain, d.token_expires_at as "tokenExpiresAt", d.first_failed_at as "firstFailedAt"`;
    const notified = new Set<number>();
    const reports: DomainCheckReport[] = [];
    for (const row of expired) {
      const site = { id: row.siteId, slug: row.siteSlug };
      await recordAudit(tx, ctx.actor, { action: 'domain.expired', site, details: { domain: row.domain, from: 'pending', to: 'failed', tokenExpiresAt: row.tokenExpiresAt } });
      if (!notified.has(site.id)) await notifySiteChanged(tx, site);
      notified.add(site.id);
      reports.push(expiredReport(row, 'pending', true));
    }
    return reports;
  });
}

function expiredReport(
  row: { siteId: number; siteSlug: string; domain: string; tokenExpiresAt: Date | null; firstFailedAt: Date | null },
  previousState: DomainState,
  transitioned: boolean,
): DomainCheckReport {
  return {
    domain: row.domain,
    siteId: row.siteId,
    siteSlug: row.siteSlug,
    previousState,
    state: 'failed',
    outcome: 'expired',
    transition: transitioned ? 'expired' : null,
    recorded: transitioned,
    message: `Not checked: ${tokenExpiredMessage(row)}.`,
    firstFailedAt: row.firstFailedAt,
    failsAt: null,
    dns: null,
  };
}

/**
 * Checks one domain now, whatever its state and whenever it was last checked, and records the
 * outcome. ConflictError when another process is checking it at this moment.
 */
export async function verifyDomain(ctx: IndigoContext, input: { domain: string } & VerificationOptions): Promise<DomainCheckReport> {
  authorize(ctx.actor, 'domain.manage');
  const domain = parseStoredDomain(input.domain);
  const settings = verificationSettings(input);
  const row = await findDomain(ctx.sql, domain);
  if (!row) throw new NotFoundError(`domain ${domain} is not attached to any site`, { domain });
  if (row.siteDeleted) {
    throw new ConflictError(`site "${row.siteSlug}" is soft-deleted: its domains are not checked`, { domain, site: row.siteSlug });
  }
  if (row.tokenExpired) {
    const [expired] = row.verificationState === 'pending' ? await expirePendingTokens(ctx, row.id) : [];
    return expired ?? expiredReport(row, row.verificationState, false);
  }
  const run = await startRun(ctx.sql, settings);
  const claim = await claimDomain(ctx.sql, run, row.id);
  if (!claim) throw new ConflictError(`${domain} is being checked by another process right now; try again in a moment`, { domain });
  try {
    return await checkClaimed(ctx, run, claim, createResultWriter(ctx, run));
  } finally {
    await releaseClaims(ctx.sql, run);
  }
}

/** One pass over every due domain with bounded concurrency. Exported through verifyAllDomains and the worker. */
export async function runVerificationPass(ctx: IndigoContext, settings: VerificationSettings, options: Pick<VerifyAllOptions, 'signal' | 'onResult'> = {}): Promise<VerifyAllResult> {
  const startedMs = performance.now();
  const reports: DomainCheckReport[] = [];
  const report = (entry: DomainCheckReport) => {
    reports.push(entry);
    options.onResult?.(entry);
  };
  const stopped = () => options.signal?.aborted === true;

  for (const entry of await expirePendingTokens(ctx)) report(entry);
  const run = await startRun(ctx.sql, settings);
  const write = createResultWriter(ctx, run);

  // Runners take claimed domains from a queue that one claim at a time refills before it runs
  // dry, so checks never wait on a claim round trip and no domain is claimed long before its check.
  const batchSize = settings.concurrency * 2;
  const queue: ClaimedDomain[] = [];
  let exhausted = false;
  let failure: unknown;
  let claiming: Promise<void> | undefined;
  const refill = (): Promise<void> =>
    (claiming ??= claimDueDomains(ctx.sql, run, batchSize)
      .then(
        (rows) => {
          queue.push(...rows);
          if (rows.length < batchSize) exhausted = true;
        },
        (error: unknown) => {
          failure ??= error;
          exhausted = true;
        },
      )
      .finally(() => {
        claiming = undefined;
      }));
  const take = async (): Promise<ClaimedDomain | undefined> => {
    while (!stopped() && failure === undefined) {
      if (!exhausted && queue.length < settings.concurrency) void refill();
      const next = queue.shift();
      if (next) return next;
      if (exhausted && claiming === undefined) return undefined;
      await claiming;
    }
    return undefined;
  };
  const runner = async () => {
    for (let claim = await take(); claim; claim = await take()) {
      try {
        report(await checkClaimed(ctx, run, claim, write));
      } catch (error) {
        failure ??= error;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: settings.concurrency }, runner));
  } finally {
    await releaseClaims(ctx.sql, run);
  }
  if (failure !== undefined) throw failure;

  const outcomes = emptyOutcomes();
  const transitions: Record<DomainTransition, number> = { verified: 0, failed: 0, expired: 0 };
  for (const entry of reports) {
    outcomes[entry.outcome] += 1;
    if (entry.transition) transitions[entry.transition] += 1;
  }
  return {
    startedAt: run.startedAtDate,
    durationMs: Math.round(performance.now() - startedMs),
    checked: reports.length,
    outcomes,
    transitions,
    incomplete: outcomes.unknown,
    stoppedEarly: stopped() && !exhausted,
    reports,
  };
}

/**
 * The cron job: expires stale tokens, then checks every pending domain (token still valid),
 * re-checks every verified one and retries failed ones whose token is still valid, `concurrency`
 * at a time. Domains of soft-deleted sites and domains another run is checking are skipped.
 */
export async function verifyAllDomains(ctx: IndigoContext, options: VerifyAllOptions = {}): Promise<VerifyAllResult> {
  authorize(ctx.actor, 'domain.manage');
  return runVerificationPass(ctx, verificationSettings(options), options);
}
