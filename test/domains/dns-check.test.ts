import type { Resolver } from 'node:dns/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../../src/lib/errors.js';
import {
  CHALLENGE_PREFIX,
  MAX_CNAME_DEPTH,
  VERIFICATION_VALUE_PREFIX,
  challengeRecord,
  checkDomainTxt,
  createVerificationToken,
  type DnsCheckResult,
  type TxtResolver,
} from '../../src/lib/domains/dns-check.js';
import { createDnsResolver, dnsServersFromEnv, parseDnsServers } from '../../src/lib/domains/dns-config.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const VALUE = `indigo-site-verification=${TOKEN}`;

let dns: TestDnsServer;
let resolver: Resolver;

beforeAll(async () => {
  dns = await startTestDnsServer();
  resolver = createDnsResolver({ servers: [dns.serversEnv] });
});
afterAll(async () => {
  await dns?.close();
});
beforeEach(() => dns.reset());

const txt = (...values: (string | string[])[]) => values.map((value) => ({ type: 'TXT' as const, value }));
const cname = (target: string) => [{ type: 'CNAME' as const, target }];
const check = (domain: string, extra: { resolver?: TxtResolver; timeoutMs?: number } = {}) =>
  checkDomainTxt({ domain, expectedToken: TOKEN, resolver, ...extra });

function expectOutcome<K extends DnsCheckResult['outcome']>(result: DnsCheckResult, outcome: K): Extract<DnsCheckResult, { outcome: K }> {
  expect(result.outcome, result.message).toBe(outcome);
  return result as Extract<DnsCheckResult, { outcome: K }>;
}

describe('challenge record', () => {
  it('is a TXT record at _indigo-challenge.<domain> holding indigo-site-verification=<token>', () => {
    expect(CHALLENGE_PREFIX).toBe('_indigo-challenge');
    expect(VERIFICATION_VALUE_PREFIX).toBe('indigo-site-verification=');
    expect(challengeRecord('example.com', TOKEN)).toEqual({
      name: '_indigo-challenge.example.com',
      type: 'TXT',
      value: VALUE,
    });
    expect(challengeRecord('bücher.example', TOKEN).name).toBe('_indigo-challenge.xn--bcher-kva.example');
  });

  it('refuses tokens that could not be published as typed and domains that are not names', () => {
    expect(() => challengeRecord('example.com', 'short')).toThrow(ValidationError);
    expect(() => challengeRecord('example.com', `${'a'.repeat(20)} b`)).toThrow(ValidationError);
    expect(() => challengeRecord('example.com', `"${'a'.repeat(20)}"`)).toThrow(ValidationError);
    expect(() => challengeRecord('1.2.3.4', TOKEN)).toThrow(/not a valid domain name/);
  });

  it('creates fresh 128-bit tokens that are valid challenge values', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => createVerificationToken()));
    expect(tokens.size).toBe(50);
    for (const token of tokens) {
      expect(token).toMatch(/^[0-9a-f]{32}$/);
      expect(challengeRecord('example.com', token).value).toBe(`indigo-site-verification=${token}`);
    }
  });
});

describe('checkDomainTxt against a loopback DNS server', () => {
  it('verifies the right value', async () => {
    dns.setRecords('_indigo-challenge.right.example', txt(VALUE));
    const result = expectOutcome(await check('right.example'), 'verified');
    expect(result).toMatchObject({ domain: 'right.example', name: '_indigo-challenge.right.example', expected: VALUE, cnames: [] });
    expect(result.message).toBe(`Found the expected TXT record at _indigo-challenge.right.example: "${VALUE}".`);
    expect(dns.queries).toEqual([{ name: '_indigo-challenge.right.example', type: 'TXT', transport: 'udp' }]);
  });

  it('normalises the domain it is given', async () => {
    dns.setRecords('_indigo-challenge.xn--bcher-kva.example', txt(VALUE));
    expectOutcome(await check('BÜCHER.example.'), 'verified');
  });

  it('reports a wrong value with what it found', async () => {
    dns.setRecords('_indigo-challenge.wrong.example', txt('indigo-site-verification=somethingelse123456'));
    const result = expectOutcome(await check('wrong.example'), 'wrong_value');
    expect(result.found).toEqual(['indigo-site-verification=somethingelse123456']);
    expect(result.message).toBe(
      `_indigo-challenge.wrong.example has a TXT record but none is "${VALUE}"; found "indigo-site-verification=somethingelse123456".` +
        ' A record holds a verification value for another token (an older one?): replace it with the value above.',
    );
  });

  it('verifies when one of two records is right', async () => {
    dns.setRecords('_indigo-challenge.two.example', txt('v=spf1 -all', VALUE));
    expectOutcome(await check('two.example'), 'verified');
  });

  it('joins the strings of one record', async () => {
    dns.setRecords('_indigo-challenge.split.example', txt(['indigo-site-', 'verification=', TOKEN]));
    expectOutcome(await check('split.example'), 'verified');
  });

  it('does not join separate records', async () => {
    dns.setRecords('_indigo-challenge.apart.example', txt('indigo-site-verification=', TOKEN));
    const result = expectOutcome(await check('apart.example'), 'wrong_value');
    expect([...result.found].sort()).toEqual([TOKEN, 'indigo-site-verification='].sort());
    expect(result.message).toMatch(/has 2 TXT records but none is/);
    expect(result.message).toMatch(/split across several TXT records: publish it as ONE record/);
  });

  it('does not accept the value with quotes around it, and says why', async () => {
    dns.setRecords('_indigo-challenge.quoted.example', txt(`"${VALUE}"`));
    const result = expectOutcome(await check('quoted.example'), 'wrong_value');
    expect(result.message).toMatch(/extra quotes or spaces around it/);
  });

  it('answers over TCP when the record set does not fit in a UDP packet', async () => {
    const filler = Array.from({ length: 12 }, (_, i) => `filler-${i}-${'x'.repeat(180)}`);
    dns.setRecords('_indigo-challenge.big.example', txt(...filler, VALUE));
    expectOutcome(await check('big.example'), 'verified');
    expect(dns.queries.map((q) => q.transport)).toContain('tcp');
  });

  it('says no_record (nxdomain) when the challenge name does not exist', async () => {
    const result = expectOutcome(await check('missing.example'), 'no_record');
    expect(result.reason).toBe('nxdomain');
    expect(result.message).toBe(
      `_indigo-challenge.missing.example does not exist (NXDOMAIN). Publish a TXT record at _indigo-challenge.missing.example with the value "${VALUE}".`,
    );
  });

  it('says no_record (nodata) when the challenge name exists without a TXT record', async () => {
    dns.setRecords('_indigo-challenge.nodata.example', [{ type: 'A', address: '192.0.2.1' }]);
    const result = expectOutcome(await check('nodata.example'), 'no_record');
    expect(result.reason).toBe('nodata');
    expect(result.message).toMatch(/^_indigo-challenge\.nodata\.example has no TXT record\. Publish/);
  });

  it('says unknown for SERVFAIL', async () => {
    dns.setBehaviour('_indigo-challenge.servfail.example', 'servfail');
    const result = expectOutcome(await check('servfail.example'), 'unknown');
    expect(result.error.code).toBe('ESERVFAIL');
    expect(result.message).toBe(
      'Could not check _indigo-challenge.servfail.example: the DNS server failed to answer (SERVFAIL). Nothing was decided; check again later.',
    );
  });

  it('says unknown for REFUSED', async () => {
    dns.setBehaviour('_indigo-challenge.refused.example', 'refused');
    const result = expectOutcome(await check('refused.example'), 'unknown');
    expect(result.error).toEqual({ code: 'EREFUSED', message: 'the DNS server refused the query (REFUSED)' });
  });

  it('says unknown when the server never answers (resolver timeout)', async () => {
    dns.setBehaviour('_indigo-challenge.silent.example', 'timeout');
    const impatient = createDnsResolver({ servers: [dns.serversEnv], timeoutMs: 50, tries: 1 });
    const result = expectOutcome(await check('silent.example', { resolver: impatient }), 'unknown');
    expect(result.error.code).toBe('ETIMEOUT');
    expect(result.message).toMatch(/did not answer in time/);
  });

  it('says unknown when the whole check outlives its deadline', async () => {
    dns.setBehaviour('_indigo-challenge.slow.example', 'hold');
    const patient = createDnsResolver({ servers: [dns.serversEnv], timeoutMs: 60_000, tries: 1 });
    const result = expectOutcome(await check('slow.example', { resolver: patient, timeoutMs: 100 }), 'unknown');
    expect(result.error).toEqual({ code: 'ETIMEOUT', message: 'no answer within 100 ms' });
    dns.release();
  });

  it('says unknown when no DNS server can be reached', async () => {
    const gone = await startTestDnsServer();
    const address = gone.serversEnv;
    await gone.close();
    const nowhere = createDnsResolver({ servers: [address], timeoutMs: 200, tries: 1 });
    const result = expectOutcome(await check('any.example', { resolver: nowhere }), 'unknown');
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(result.error.code);
  });

  it('runs concurrent checks on one resolver without mixing them up', async () => {
    const domains = Array.from({ length: 20 }, (_, i) => `c${i}.example`);
    domains.forEach((domain, i) => {
      if (i % 2 === 0) dns.setRecords(`_indigo-challenge.${domain}`, txt(VALUE));
    });
    const results = await Promise.all(domains.map((domain) => check(domain)));
    expect(results.map((r) => r.outcome)).toEqual(domains.map((_, i) => (i % 2 === 0 ? 'verified' : 'no_record')));
    expect(results.map((r) => r.domain)).toEqual(domains);
  });
});

describe('CNAMEs on the challenge name', () => {
  it('follows a CNAME to a name with the right TXT record', async () => {
    dns.setRecords('_indigo-challenge.alias.example', cname('alias.verify.provider.example'));
    dns.setRecords('alias.verify.provider.example', txt(VALUE));
    const result = expectOutcome(await check('alias.example'), 'verified');
    expect(result.cnames).toEqual(['alias.verify.provider.example']);
    expect(result.message).toBe(
      `Found the expected TXT record at _indigo-challenge.alias.example (CNAME → alias.verify.provider.example): "${VALUE}".`,
    );
  });

  it('reports a wrong value at the end of a chain', async () => {
    dns.setRecords('_indigo-challenge.chainwrong.example', cname('hop.provider.example'));
    dns.setRecords('hop.provider.example', txt('nope'));
    const result = expectOutcome(await check('chainwrong.example'), 'wrong_value');
    expect(result.found).toEqual(['nope']);
    expect(result.message).toMatch(/^_indigo-challenge\.chainwrong\.example \(CNAME → hop\.provider\.example\) has a TXT record/);
  });

  it(`follows ${MAX_CNAME_DEPTH} CNAMEs and no more`, async () => {
    const chain = (domain: string, hops: number): void => {
      let from = `_indigo-challenge.${domain}`;
      for (let i = 1; i <= hops; i++) {
        const to = `hop${i}.${domain}.provider.example`;
        dns.setRecords(from, cname(to));
        from = to;
      }
      dns.setRecords(from, txt(VALUE));
    };
    chain('deep8.example', MAX_CNAME_DEPTH);
    chain('deep9.example', MAX_CNAME_DEPTH + 1);
    expect(expectOutcome(await check('deep8.example'), 'verified').cnames).toHaveLength(MAX_CNAME_DEPTH);
    const tooDeep = expectOutcome(await check('deep9.example'), 'no_record');
    expect(tooDeep.reason).toBe('cname_too_deep');
    expect(tooDeep.message).toMatch(/more than 8 CNAMEs in a row/);
  });

  it('detects a CNAME loop', async () => {
    dns.setRecords('_indigo-challenge.loop.example', cname('a.loop.provider.example'));
    dns.setRecords('a.loop.provider.example', cname('b.loop.provider.example'));
    dns.setRecords('b.loop.provider.example', cname('a.loop.provider.example'));
    const result = expectOutcome(await check('loop.example'), 'no_record');
    expect(result.reason).toBe('cname_loop');
    expect(result.message).toBe(
      '_indigo-challenge.loop.example (CNAME → a.loop.provider.example → b.loop.provider.example → a.loop.provider.example):' +
        ' the CNAME chain loops back to a.loop.provider.example, so no TXT record can be found. Fix the CNAME records.',
    );
  });

  it('detects a CNAME pointing at the challenge name itself', async () => {
    dns.setRecords('_indigo-challenge.self.example', cname('_indigo-challenge.self.example'));
    expect(expectOutcome(await check('self.example'), 'no_record').reason).toBe('cname_loop');
  });

  it('says nxdomain when the CNAME target does not exist', async () => {
    dns.setRecords('_indigo-challenge.dangling.example', cname('gone.provider.example'));
    const result = expectOutcome(await check('dangling.example'), 'no_record');
    expect(result.reason).toBe('nxdomain');
    expect(result.message).toMatch(
      /^_indigo-challenge\.dangling\.example \(CNAME → gone\.provider\.example\): gone\.provider\.example does not exist \(NXDOMAIN\)/,
    );
  });

  it('says unknown when the CNAME target fails, naming the path', async () => {
    dns.setRecords('_indigo-challenge.flaky.example', cname('flaky.provider.example'));
    dns.setBehaviour('flaky.provider.example', 'servfail');
    const result = expectOutcome(await check('flaky.example'), 'unknown');
    expect(result.error.code).toBe('ESERVFAIL');
    expect(result.message).toMatch(/^Could not check _indigo-challenge\.flaky\.example \(CNAME → flaky\.provider\.example\)/);
  });

  describe('through a resolver that follows CNAMEs itself', () => {
    let recursive: TestDnsServer;
    let viaRecursive: Resolver;
    beforeAll(async () => {
      recursive = await startTestDnsServer({ chaseCnames: true });
      viaRecursive = createDnsResolver({ servers: [recursive.serversEnv] });
    });
    afterAll(async () => {
      await recursive?.close();
    });

    it('verifies from the records the resolver returns for the target', async () => {
      recursive.setRecords('_indigo-challenge.alias.example', cname('alias.verify.provider.example'));
      recursive.setRecords('alias.verify.provider.example', txt(VALUE));
      expectOutcome(await check('alias.example', { resolver: viaRecursive }), 'verified');
      expect(recursive.queries.map((q) => q.type)).toEqual(['TXT']);
    });

    it('reports a target without TXT records as nodata at the target', async () => {
      recursive.setRecords('_indigo-challenge.empty.example', cname('empty.provider.example'));
      recursive.setRecords('empty.provider.example', [{ type: 'A', address: '192.0.2.1' }]);
      const result = expectOutcome(await check('empty.example', { resolver: viaRecursive }), 'no_record');
      expect(result.reason).toBe('nodata');
      expect(result.cnames).toEqual(['empty.provider.example']);
    });

    it('treats the SERVFAIL a recursive resolver gives for a loop as unknown', async () => {
      recursive.setRecords('_indigo-challenge.loop.example', cname('a.loop.provider.example'));
      recursive.setRecords('a.loop.provider.example', cname('_indigo-challenge.loop.example'));
      expect(expectOutcome(await check('loop.example', { resolver: viaRecursive }), 'unknown').error.code).toBe('ESERVFAIL');
    });
  });
});

describe('checkDomainTxt input and resolver errors', () => {
  it('rejects with ValidationError for an invalid domain or token, before any query', async () => {
    await expect(check('a..b')).rejects.toBeInstanceOf(ValidationError);
    await expect(checkDomainTxt({ domain: 'example.com', expectedToken: '', resolver })).rejects.toBeInstanceOf(ValidationError);
    await expect(check('example.com', { timeoutMs: 0 })).rejects.toBeInstanceOf(ValidationError);
    expect(dns.queries).toEqual([]);
  });

  it('rethrows errors that are not DNS failures instead of calling them unknown', async () => {
    const broken: TxtResolver = {
      resolveTxt: () => Promise.reject(new TypeError('resolver bug')),
      resolveCname: () => Promise.reject(new TypeError('resolver bug')),
    };
    await expect(check('example.com', { resolver: broken })).rejects.toThrow('resolver bug');
  });

  describe('with the default resolver', () => {
    afterEach(() => vi.unstubAllEnvs());

    it('asks the servers named in INDIGO_DNS_SERVERS', async () => {
      vi.stubEnv('INDIGO_DNS_SERVERS', dns.serversEnv);
      dns.setRecords('_indigo-challenge.env.example', txt(VALUE));
      expectOutcome(await checkDomainTxt({ domain: 'env.example', expectedToken: TOKEN }), 'verified');
      expect(dns.queries).toHaveLength(1);
    });
  });
});

describe('DNS configuration', () => {
  it.each([
    ['127.0.0.1:5353', ['127.0.0.1:5353']],
    ['1.1.1.1, 8.8.8.8:53', ['1.1.1.1', '8.8.8.8:53']],
    ['[::1]:5353', ['[::1]:5353']],
    ['[::1]', ['::1']],
    ['::1', ['::1']],
    ['2001:db8::53,', ['2001:db8::53']],
    ['', []],
  ])('parses %j', (value, servers) => {
    expect(parseDnsServers(value)).toEqual(servers);
  });

  it.each([
    ['dns.google', /"dns\.google" is not an IP address \(DNS servers are given by address/],
    ['127.0.0.1:abc', /port that is not a number from 1 to 65535/],
    ['127.0.0.1:0', /port that is not a number/],
    ['127.0.0.1:70000', /port that is not a number/],
    ['[127.0.0.1]:53', /not an IPv6 address/],
    ['[::1', /not a valid \[IPv6\]:port/],
    ['1.2.3.4:53:53', /not an IP address/],
  ])('refuses %j', (value, rule) => {
    expect(() => parseDnsServers(value)).toThrow(rule);
    expect(() => parseDnsServers(value)).toThrow(ValidationError);
  });

  it('reads INDIGO_DNS_SERVERS, falling back to the system servers when unset or blank', () => {
    expect(dnsServersFromEnv({})).toBeUndefined();
    expect(dnsServersFromEnv({ INDIGO_DNS_SERVERS: ' , ' })).toBeUndefined();
    expect(dnsServersFromEnv({ INDIGO_DNS_SERVERS: '127.0.0.1:53000' })).toEqual(['127.0.0.1:53000']);
    expect(() => dnsServersFromEnv({ INDIGO_DNS_SERVERS: 'localhost' })).toThrow(/^INDIGO_DNS_SERVERS: "localhost"/);
  });

  it('creates a resolver on the given servers and refuses nonsense settings', () => {
    expect(createDnsResolver({ servers: ['127.0.0.1:5353', '[::1]:53'] }).getServers()).toEqual(['127.0.0.1:5353', '::1']);
    expect(() => createDnsResolver({ timeoutMs: 0 })).toThrow(ValidationError);
    expect(() => createDnsResolver({ tries: 0 })).toThrow(ValidationError);
    expect(() => createDnsResolver({ servers: ['not-an-ip'] })).toThrow(ValidationError);
  });
});

describe('test DNS server', () => {
  it('holds a query until released, so a test can observe a check in flight', async () => {
    dns.setRecords('_indigo-challenge.held.example', txt(VALUE));
    dns.setBehaviour('_indigo-challenge.held.example', 'hold');
    const pending = check('held.example');
    const query = await dns.waitForQuery('_indigo-challenge.held.example', 'TXT');
    expect(query).toMatchObject({ name: '_indigo-challenge.held.example', type: 'TXT' });
    dns.release('_indigo-challenge.held.example');
    expectOutcome(await pending, 'verified');
  });

  it('refuses a TXT string it could not encode', () => {
    expect(() => dns.setRecords('x.example', txt('x'.repeat(256)))).toThrow(/longer than 255 bytes/);
  });
});
