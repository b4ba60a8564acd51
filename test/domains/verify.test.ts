import type { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  addDomain,
  ConflictError,
  createDnsResolver,
  createPool,
  createSite,
  startDnsVerificationWorker,
  verifyAllDomains,
  verifyDomain,
  type DomainCheckReport,
  type IndigoContext,
  type VerifyAllResult,
} from '../../src/index.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

let net: TestNetwork;
let ctx: IndigoContext;
let dns: TestDnsServer;
let resolver: Resolver;
/** Every check goes to the loopback server; set once it is up. */
let options: { resolver: Resolver; timeoutMs: number };

beforeAll(async () => {
  net = await createTestNetwork();
  ctx = net.ctx;
  dns = await startTestDnsServer();
  // Short waits so timeouts and held queries do not slow the suite; the check deadline is below.
  resolver = createDnsResolver({ servers: [dns.serversEnv], timeoutMs: 250, tries: 1 });
  options = { resolver, timeoutMs: 1000 };
  for (const slug of ['acme', 'beta']) await createSite(ctx, { slug });
});
afterAll(async () => {
  await dns?.close();
  await net?.drop();
});
beforeEach(async () => {
  dns.reset();
  await net.sql`delete from site_domains`;
  await net.sql`delete from audit_log`;
});

const txt = (...values: (string | string[])[]) => values.map((value) => ({ type: 'TXT' as const, value }));

/** Adds the domain and returns its challenge record; `publish` puts the right value in DNS. */
async function add(domain: string, site = 'acme', publish = false) {
  const { record } = await addDomain(ctx, { site, domain, baseDomain: null });
  if (publish) dns.setRecords(record.name, txt(record.value));
  return record;
}

async function row(domain: string) {
  const [found] = await net.sql`
    select verification_state as state, verified_at, token_expires_at, last_checked_at, last_error, first_failed_at, check_claim
    from site_domains where domain = ${domain}`;
  return found;
}

async function transitions(domain?: string) {
  return net.sql`
    select action, details->>'domain' as domain, details->>'from' as "from", details->>'to' as "to" from audit_log
    where action in ('domain.verified', 'domain.failed', 'domain.expired') and (${domain ?? null}::text is null or details->>'domain' = ${domain ?? null})
    order by id`;
}

/** Makes a domain verified and failing since `hours` ago, as if earlier checks had run. */
async function verifiedFailingSince(domain: string, hours: number | null) {
  await net.sql`
    update site_domains set verification_state = 'verified', verified_at = now() - interval '30 days', token_expires_at = null,
      first_failed_at = ${hours === null ? null : net.sql`now() - make_interval(hours => ${hours})`}
    where domain = ${domain}`;
}

describe('verifyDomain: what DNS answers', () => {
  it('the right value verifies, once, with an audit entry', async () => {
    await add('right.example', 'acme', true);
    const report = await verifyDomain(ctx, { domain: 'RIGHT.example', ...options });
    expect(report).toMatchObject({ domain: 'right.example', previousState: 'pending', state: 'verified', outcome: 'verified', transition: 'verified', recorded: true });
    expect(report.message).toMatch(/Found the expected TXT record .* right\.example is now verified/);
    expect(await row('right.example')).toMatchObject({ state: 'verified', token_expires_at: null, last_error: null, first_failed_at: null, check_claim: null });
    expect((await row('right.example')).verified_at).toBeInstanceOf(Date);
    const again = await verifyDomain(ctx, { domain: 'right.example', ...options });
    expect(again).toMatchObject({ state: 'verified', transition: null });
    expect(await transitions()).toEqual([{ action: 'domain.verified', domain: 'right.example', from: 'pending', to: 'verified' }]);
  });

  it('a wrong value leaves it pending and says what was found', async () => {
    const record = await add('wrong.example');
    dns.setRecords(record.name, txt('indigo-site-verification=0000000000000000deadbeef00000000'));
    const report = await verifyDomain(ctx, { domain: 'wrong.example', ...options });
    expect(report).toMatchObject({ state: 'pending', outcome: 'wrong_value', transition: null });
    expect(report.message).toMatch(/none is "indigo-site-verification=[0-9a-f]{32}"; found "indigo-site-verification=0000/);
    expect(await row('wrong.example')).toMatchObject({ state: 'pending', last_error: report.message });
  });

  it('one right record among several verifies', async () => {
    const record = await add('two.example');
    dns.setRecords(record.name, txt('v=spf1 -all', record.value));
    expect(await verifyDomain(ctx, { domain: 'two.example', ...options })).toMatchObject({ outcome: 'verified', state: 'verified' });
  });

  it('strings of one record are joined; the same pieces in separate records are not', async () => {
    const joined = await add('split.example');
    dns.setRecords(joined.name, txt([joined.value.slice(0, 20), joined.value.slice(20)]));
    expect(await verifyDomain(ctx, { domain: 'split.example', ...options })).toMatchObject({ outcome: 'verified' });

    const separate = await add('separate.example');
    dns.setRecords(separate.name, txt(separate.value.slice(0, 20), separate.value.slice(20)));
    const report = await verifyDomain(ctx, { domain: 'separate.example', ...options });
    expect(report).toMatchObject({ outcome: 'wrong_value', state: 'pending' });
    expect(report.message).toMatch(/split across several TXT records/);
  });

  it('follows a CNAME on the challenge name', async () => {
    const record = await add('alias.example');
    dns.setRecords(record.name, [{ type: 'CNAME', target: 'challenges.dns-provider.example' }]);
    dns.setRecords('challenges.dns-provider.example', txt(record.value));
    const report = await verifyDomain(ctx, { domain: 'alias.example', ...options });
    expect(report).toMatchObject({ outcome: 'verified', state: 'verified' });
    expect(report.dns?.cnames).toEqual(['challenges.dns-provider.example']);
  });

  it('NXDOMAIN is "no record"', async () => {
    await add('nx.example');
    const report = await verifyDomain(ctx, { domain: 'nx.example', ...options });
    expect(report).toMatchObject({ outcome: 'no_record', state: 'pending' });
    expect(report.message).toMatch(/does not exist \(NXDOMAIN\)/);
  });

  it.each([
    ['servfail', /SERVFAIL/],
    ['refused', /REFUSED/],
    ['timeout', /did not answer in time|no answer within/],
  ] as const)('%s is "unknown" and changes nothing but last_checked_at and last_error, also for a failing verified domain', async (behaviour, message) => {
    const record = await add(`${behaviour}.example`);
    await verifiedFailingSince(`${behaviour}.example`, 100);
    const before = await row(`${behaviour}.example`);
    dns.setBehaviour(record.name, behaviour);
    const report = await verifyDomain(ctx, { domain: `${behaviour}.example`, ...options });
    expect(report).toMatchObject({ outcome: 'unknown', state: 'verified', transition: null, recorded: true });
    expect(report.message).toMatch(message);
    const after = await row(`${behaviour}.example`);
    expect(after.last_checked_at).not.toEqual(before.last_checked_at);
    expect(after.last_error).toBe(report.message);
    expect({ ...after, last_checked_at: null, last_error: null }).toEqual({ ...before, last_checked_at: null, last_error: null });
    expect(await transitions()).toEqual([]);
  });

  it('is refused when another site verified a parent domain meanwhile (takeover)', async () => {
    await add('www.parent.example', 'beta', true);
    await add('parent.example', 'acme');
    await verifiedFailingSince('parent.example', null);
    const report = await verifyDomain(ctx, { domain: 'www.parent.example', ...options });
    expect(report).toMatchObject({ outcome: 'refused', state: 'pending', transition: null });
    expect(report.message).toMatch(/www\.parent\.example is under parent\.example, which site "acme" has verified/);
  });

  it('reports unknown and unattached domains clearly', async () => {
    await expect(verifyDomain(ctx, { domain: 'never-added.example', ...options })).rejects.toThrow('domain never-added.example is not attached to any site');
    await expect(verifyDomain(ctx, { domain: 'not a domain', ...options })).rejects.toThrow(/not a domain/);
  });
});

describe('grace period', () => {
  it('a verified domain whose record disappears stays verified for 72 h, then fails, once', async () => {
    await add('grace.example', 'acme', true);
    await verifyDomain(ctx, { domain: 'grace.example', ...options });
    dns.reset();

    const first = await verifyDomain(ctx, { domain: 'grace.example', ...options });
    expect(first).toMatchObject({ outcome: 'no_record', state: 'verified', transition: null });
    const failingSince = (await row('grace.example')).first_failed_at as Date;
    expect(failingSince).toBeInstanceOf(Date);
    expect(first.failsAt?.getTime()).toBe(failingSince.getTime() + 72 * 3_600_000);
    expect(first.message).toMatch(/stays verified until/);

    // A second failure keeps the start of the run of failures.
    const second = await verifyDomain(ctx, { domain: 'grace.example', ...options });
    expect(second.state).toBe('verified');
    expect((await row('grace.example')).first_failed_at).toEqual(failingSince);

    // 71 hours later: still verified. 73 hours: failed.
    await net.sql`update site_domains set first_failed_at = now() - interval '71 hours' where domain = 'grace.example'`;
    expect(await verifyDomain(ctx, { domain: 'grace.example', ...options })).toMatchObject({ state: 'verified', transition: null });
    await net.sql`update site_domains set first_failed_at = now() - interval '73 hours' where domain = 'grace.example'`;
    const failed = await verifyDomain(ctx, { domain: 'grace.example', ...options });
    expect(failed).toMatchObject({ previousState: 'verified', state: 'failed', transition: 'failed' });
    expect(failed.message).toMatch(/longer than the grace period \(3d\)/);
    const [fresh] = await net.sql`select token_expires_at - now() > interval '6 days' as ok from site_domains where domain = 'grace.example'`;
    expect(fresh.ok).toBe(true);
    expect(await verifyDomain(ctx, { domain: 'grace.example', ...options })).toMatchObject({ state: 'failed', transition: null });
    expect(await transitions('grace.example')).toEqual([
      { action: 'domain.verified', domain: 'grace.example', from: 'pending', to: 'verified' },
      { action: 'domain.failed', domain: 'grace.example', from: 'verified', to: 'failed' },
    ]);
  });

  it('a record that comes back within the grace period clears the failure; a failed domain re-verifies', async () => {
    const record = await add('back.example');
    await verifiedFailingSince('back.example', 70);
    dns.setRecords(record.name, txt(record.value));
    expect(await verifyDomain(ctx, { domain: 'back.example', ...options })).toMatchObject({ state: 'verified', transition: null, firstFailedAt: null });
    expect((await row('back.example')).first_failed_at).toBeNull();

    await net.sql`update site_domains set verification_state = 'failed', token_expires_at = now() + interval '7 days' where domain = 'back.example'`;
    expect(await verifyDomain(ctx, { domain: 'back.example', ...options })).toMatchObject({ previousState: 'failed', state: 'verified', transition: 'verified' });
  });

  it('a DNS outage never unverifies: 40 failing domains past their grace period stay verified while DNS answers SERVFAIL', async () => {
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const record = await add(`outage-${i}.example`);
      await verifiedFailingSince(`outage-${i}.example`, 200);
      dns.setBehaviour(record.name, 'servfail');
      names.push(`outage-${i}.example`);
    }
    const result = await verifyAllDomains(ctx, options);
    expect(result).toMatchObject({ checked: 40, incomplete: 40, transitions: { verified: 0, failed: 0, expired: 0 } });
    const states = await net.sql`select distinct verification_state from site_domains where domain = any(${names})`;
    expect(states.map((s) => s.verification_state)).toEqual(['verified']);
  });
});

describe('token expiry', () => {
  it('an expired pending token fails the domain without asking DNS; --renew makes it verifiable again', async () => {
    const record = await add('expired.example', 'acme', true);
    await net.sql`update site_domains set token_expires_at = now() - interval '1 minute' where domain = 'expired.example'`;
    const result = await verifyAllDomains(ctx, options);
    expect(result.reports).toEqual([expect.objectContaining({ domain: 'expired.example', outcome: 'expired', transition: 'expired', state: 'failed' })]);
    expect(dns.queries.filter((q) => q.name === record.name)).toEqual([]);
    expect(await transitions('expired.example')).toEqual([{ action: 'domain.expired', domain: 'expired.example', from: 'pending', to: 'failed' }]);

    // Nothing more happens to it, by cron or by hand, until it is renewed.
    expect((await verifyAllDomains(ctx, options)).checked).toBe(0);
    const single = await verifyDomain(ctx, { domain: 'expired.example', ...options });
    expect(single).toMatchObject({ outcome: 'expired', transition: null, recorded: false, state: 'failed' });
    expect(single.message).toMatch(/domain:add expired\.example --site acme --renew/);

    const renewed = await addDomain(ctx, { site: 'acme', domain: 'expired.example', renew: true, baseDomain: null });
    dns.setRecords(renewed.record.name, txt(renewed.record.value));
    expect(await verifyDomain(ctx, { domain: 'expired.example', ...options })).toMatchObject({ state: 'verified', transition: 'verified' });
  });

  it('verifyDomain expires a pending token itself', async () => {
    await add('expired-single.example', 'acme', true);
    await net.sql`update site_domains set token_expires_at = now() - interval '1 second' where domain = 'expired-single.example'`;
    expect(await verifyDomain(ctx, { domain: 'expired-single.example', ...options })).toMatchObject({ outcome: 'expired', transition: 'expired', state: 'failed' });
  });
});

describe('verifyAllDomains', () => {
  it('checks pending and verified domains once per pass, skips soft-deleted sites, and summarises', async () => {
    await add('all-right.example', 'acme', true);
    await add('all-missing.example', 'acme');
    const verified = await add('all-verified.example', 'acme', true);
    await verifiedFailingSince('all-verified.example', null);
    await add('all-deleted-site.example', 'beta', true);
    await net.sql`update sites set deleted_at = now() where slug = 'beta'`;
    try {
      const result = await verifyAllDomains(ctx, { ...options, concurrency: 2 });
      expect(result.reports.map((r) => r.domain).sort()).toEqual(['all-missing.example', 'all-right.example', 'all-verified.example']);
      expect(result).toMatchObject({
        checked: 3,
        incomplete: 0,
        stoppedEarly: false,
        outcomes: { verified: 2, no_record: 1, wrong_value: 0, unknown: 0, expired: 0, refused: 0 },
        transitions: { verified: 1, failed: 0, expired: 0 },
      });
      expect(dns.queries.filter((q) => q.name === verified.name && q.type === 'TXT')).toHaveLength(1);
      expect((await row('all-deleted-site.example')).state).toBe('pending');
      expect(await net.sql`select 1 from site_domains where check_claim is not null`).toHaveLength(0);
    } finally {
      await net.sql`update sites set deleted_at = null where slug = 'beta'`;
    }
  });

  it('audits every transition exactly once when three runs overlap', async () => {
    for (let i = 0; i < 30; i++) await add(`overlap-${i}.example`, 'acme', true);
    for (let i = 0; i < 10; i++) {
      await add(`overlap-fail-${i}.example`, 'beta');
      await verifiedFailingSince(`overlap-fail-${i}.example`, 100);
    }
    const runs = await Promise.all([1, 2, 3].map(() => verifyAllDomains(ctx, { ...options, concurrency: 4 })));
    const audited = await transitions();
    expect(audited.filter((a) => a.action === 'domain.verified')).toHaveLength(30);
    expect(audited.filter((a) => a.action === 'domain.failed')).toHaveLength(10);
    expect(new Set(audited.map((a) => a.domain)).size).toBe(40);
    expect(runs.reduce((sum, r) => sum + r.transitions.verified + r.transitions.failed, 0)).toBe(40);
  });

  it('refuses bad options before reading anything', async () => {
    await expect(verifyAllDomains(ctx, { ...options, concurrency: 0 })).rejects.toThrow(/concurrency must be a whole number from 1 to 256/);
    await expect(verifyAllDomains(ctx, { ...options, timeoutMs: 0 })).rejects.toThrow(/check timeout/);
  });
});

describe('startDnsVerificationWorker', () => {
  it('two workers never check one domain at once, and a stop waits for the check in flight', async () => {
    const held = await add('held.example', 'acme', true);
    for (let i = 0; i < 5; i++) await add(`worker-${i}.example`, 'acme', true);
    dns.setBehaviour(held.name, 'hold');
    // The held query must outlive worker B's whole pass: a generous deadline for it alone.
    const slowOptions = { resolver: createDnsResolver({ servers: [dns.serversEnv], timeoutMs: 20_000, tries: 1 }), timeoutMs: 20_000 };

    const passesA: VerifyAllResult[] = [];
    const workerA = startDnsVerificationWorker(ctx, { ...slowOptions, concurrency: 1, intervalMs: 60_000, onPass: (r) => passesA.push(r) });
    await dns.waitForQuery(held.name, 'TXT');
    expect((await row('held.example')).check_claim).not.toBeNull();

    const passB = new Promise<VerifyAllResult>((resolve) => {
      const workerB = startDnsVerificationWorker(ctx, {
        ...slowOptions,
        concurrency: 4,
        intervalMs: 60_000,
        onPass: (result) => {
          resolve(result);
          void workerB.stop();
        },
      });
    });
    const resultB = await passB;
    expect(resultB.reports.map((r) => r.domain)).not.toContain('held.example');
    await expect(verifyDomain(ctx, { domain: 'held.example', ...options })).rejects.toThrow(ConflictError);

    // Stop A while its check is held: it finishes and records that check, then stops.
    const stopping = workerA.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    dns.release(held.name);
    const summary = await stopping;
    expect(summary.passes).toBe(1);
    expect(passesA[0]!.stoppedEarly).toBe(true);
    expect(passesA[0]!.reports.map((r: DomainCheckReport) => r.domain)).toContain('held.example');
    expect((await row('held.example')).state).toBe('verified');
    expect(dns.queries.filter((q) => q.name === held.name && q.type === 'TXT')).toHaveLength(1);
    // A's queue also held worker-0 (claimed with held.example, not started): released unchecked.
    expect(await net.sql`select domain from site_domains where check_claim is not null`).toHaveLength(0);
    expect(resultB.reports.map((r) => r.domain).sort()).toEqual(['worker-1.example', 'worker-2.example', 'worker-3.example', 'worker-4.example']);
    expect(await row('worker-0.example')).toMatchObject({ state: 'pending', last_checked_at: null });
    expect((await transitions()).map((t) => t.domain).sort()).toEqual(['held.example', 'worker-1.example', 'worker-2.example', 'worker-3.example', 'worker-4.example']);
  });

  it('an aborted signal stops the worker between passes, and a failing pass does not kill it', async () => {
    const controller = new AbortController();
    const errors: unknown[] = [];
    let passes = 0;
    // Nothing listens on port 1: every pass fails to reach the database.
    const unreachable = createPool('postgres://postgres@127.0.0.1:1/none', { max: 1, connect_timeout: 2 });
    const worker = startDnsVerificationWorker({ ...ctx, sql: unreachable }, {
      ...options,
      intervalMs: 10,
      signal: controller.signal,
      onPass: () => passes++,
      onError: (error) => {
        errors.push(error);
        if (errors.length === 3) controller.abort();
      },
    });
    const summary = await worker.done;
    expect(summary).toMatchObject({ passes: 0, failedPasses: 3 });
    expect(passes).toBe(0);
    expect(errors[0]).toMatchObject({ code: 'ECONNREFUSED' });
    await unreachable.end();
  });

  it('refuses bad options at start', () => {
    expect(() => startDnsVerificationWorker(ctx, { intervalMs: 0 })).toThrow(/worker interval/);
  });
});
