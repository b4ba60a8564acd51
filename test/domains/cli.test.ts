import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collect, json, runCli, startCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startTestDnsServer, type TestDnsServer } from '../support/dns-server.js';

let db: TestDatabase;
let dns: TestDnsServer;
let configDir: string;
const BASE = 'sites.example.net';

const env = () => ({ INDIGO_DNS_SERVERS: dns.serversEnv, INDIGO_SITES_CONFIG_DIR: configDir, INDIGO_BASE_DOMAIN: BASE });
const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runCli([...args, '--database-url', db.url], { env: { ...env(), ...extra } });

async function domains() {
  return db.sql`select s.slug, d.domain, d.verification_state as state, d.is_primary as primary from site_domains d join sites s on s.id = d.site_id order by d.domain`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  dns = await startTestDnsServer();
  configDir = mkdtempSync(path.join(tmpdir(), 'indigo-domains-cli-'));
  expect((await cli(['init'])).code).toBe(0);
  for (const slug of ['acme', 'beta']) expect((await cli(['site:create', slug])).code).toBe(0);
});
afterAll(async () => {
  await dns?.close();
  await db?.drop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});
beforeEach(() => dns.reset());

/** Adds through the CLI and publishes the printed record on the loopback DNS server. */
async function addAndPublish(domain: string, site: string): Promise<{ name: string; value: string }> {
  const added = await cli(['domain:add', domain, '--site', site, '--json']);
  expect(added.code, added.stderr).toBe(0);
  const { record } = json(added);
  dns.setRecords(record.name, [{ type: 'TXT', value: record.value }]);
  return record;
}

describe('domain:add', () => {
  it('prints exactly the TXT record to publish', async () => {
    const human = await cli(['domain:add', 'Shop.Example.COM', '--site', 'acme', '--primary']);
    expect(human.code, human.stderr).toBe(0);
    const [row] = await db.sql`select token from site_domains where domain = 'shop.example.com'`;
    expect(human.stdout).toContain('Added shop.example.com to site acme as its primary domain: pending until verified');
    expect(human.stdout).toMatch(/^name +_indigo-challenge\.shop\.example\.com$/m);
    expect(human.stdout).toMatch(/^type +TXT$/m);
    expect(human.stdout).toMatch(new RegExp(`^value +indigo-site-verification=${row.token}$`, 'm'));
    expect(human.stdout).toContain(`_indigo-challenge.shop.example.com. 300 IN TXT "indigo-site-verification=${row.token}"`);

    const scripted = await cli(['domain:add', 'api.example.com', '--site', 'acme', '--json']);
    expect(scripted.code).toBe(0);
    const body = json(scripted);
    expect(body.record).toEqual({ name: '_indigo-challenge.api.example.com', type: 'TXT', value: `indigo-site-verification=${body.domain.token}` });
    expect(body.domain).toMatchObject({ domain: 'api.example.com', siteSlug: 'acme', verificationState: 'pending', isPrimary: false });
  });

  it('exits 4 naming the site that has the domain, and changes nothing', async () => {
    const before = await domains();
    const result = await cli(['domain:add', 'shop.example.com', '--site', 'beta', '--json']);
    expect(result.code).toBe(4);
    expect(json(result).error).toMatchObject({ code: 'CONFLICT', message: 'shop.example.com is already attached to site "acme"' });
    expect(await domains()).toEqual(before);
  });

  it('exits 2 for invalid domains and names under the base domain, before connecting', async () => {
    const before = await domains();
    for (const domain of ['co.uk', `acme.${BASE}`]) {
      const result = await runCli(['domain:add', domain, '--site', 'acme', '--json', '--database-url', 'postgres://nobody@127.0.0.1:1/none'], { env: env() });
      expect(result.code, domain).toBe(2);
      expect(json(result).error.code).toBe('INVALID_INPUT');
    }
    expect(await domains()).toEqual(before);
  });

  it('without --site and without an active site is a usage error naming the flag', async () => {
    const result = await cli(['domain:add', 'nosite.example']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing flag --site/);
  });
});

describe('domain:verify', () => {
  it('DOMAIN says what it found and exits 0; the domain resolves afterwards', async () => {
    await addAndPublish('verify-me.example', 'beta');
    const result = await cli(['domain:verify', 'verify-me.example']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/state +pending → verified/);
    expect(result.stdout).toMatch(/found +the right value/);
    const resolved = await cli(['site:resolve', 'VERIFY-ME.example:443', '--json']);
    expect(resolved.code).toBe(0);
    expect(json(resolved)).toMatchObject({ site: { slug: 'beta', schemaName: 'site_beta', status: 'active' }, matchedBy: 'domain' });
  });

  it('DOMAIN exits 5 when DNS gives no answer, and 0 with "no record" otherwise', async () => {
    const record = await addAndPublish('flaky.example', 'beta');
    dns.setBehaviour(record.name, 'servfail');
    const failed = await cli(['domain:verify', 'flaky.example', '--json']);
    expect(failed.code).toBe(5);
    expect(json(failed)).toMatchObject({ outcome: 'unknown', state: 'pending', dns: { error: { code: 'ESERVFAIL' } } });
    dns.setBehaviour(record.name, 'nxdomain');
    const missing = await cli(['domain:verify', 'flaky.example', '--json']);
    expect(missing.code).toBe(0);
    expect(json(missing)).toMatchObject({ outcome: 'no_record', state: 'pending' });
  });

  it('--all prints a summary and exits 5 when any check could not be completed', async () => {
    await db.sql`delete from site_domains`;
    await addAndPublish('all-1.example', 'acme');
    await addAndPublish('all-2.example', 'beta');
    const broken = await addAndPublish('all-3.example', 'beta');
    dns.setBehaviour(broken.name, 'timeout');
    const result = await cli(['domain:verify', '--all', '--timeout', '300ms', '--concurrency', '2']);
    expect(result.code).toBe(5);
    expect(result.stdout).toMatch(/Checked 3 domains/);
    expect(result.stdout).toMatch(/\| right value +\| 2 +\|/);
    expect(result.stdout).toMatch(/\| DNS error \(nothing changed\) +\| 1 +\|/);
    expect(result.stderr).toMatch(/1 of 3 checks could not be completed/);

    dns.setBehaviour(broken.name, 'answer');
    const again = await cli(['domain:verify', '--all', '--json']);
    expect(again.code).toBe(0);
    expect(json(again)).toMatchObject({ checked: 3, incomplete: 0, transitions: { verified: 1 } });
  });

  it('refuses bad flags with exit 2', async () => {
    expect((await cli(['domain:verify', '--all', '--timeout', '5'])).stderr).toMatch(/--timeout: "5" is not a duration with a unit/);
    expect((await cli(['domain:verify', '--all', '--concurrency', '0'])).code).toBe(2);
    expect((await cli(['domain:verify', 'x.example', '--all'])).code).toBe(2);
  });
});

describe('domain:list, domain:primary, domain:remove', () => {
  it('lists, moves the primary flag and removes with confirmation', async () => {
    await db.sql`delete from site_domains`;
    await cli(['domain:add', 'one.example', '--site', 'acme', '--primary']);
    await cli(['domain:add', 'two.example', '--site', 'acme']);
    await cli(['domain:add', 'three.example', '--site', 'beta']);

    const listed = await cli(['domain:list', '--site', 'acme', '--json']);
    expect(json(listed).map((d: { domain: string }) => d.domain)).toEqual(['one.example', 'two.example']);
    const table = await cli(['domain:list']);
    expect(table.stdout).toMatch(/\| one\.example +\| acme +\| pending +\| yes/);
    expect(table.stdout).toMatch(/3 domains/);
    expect(json(await cli(['domain:list', '--status', 'verified', '--json']))).toEqual([]);

    const primary = await cli(['domain:primary', 'TWO.example', '--json']);
    expect(json(primary)).toMatchObject({ changed: true, previous: 'one.example', domain: { domain: 'two.example', isPrimary: true } });

    const unconfirmed = await cli(['domain:remove', 'two.example']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/missing flag --confirm/);
    expect((await cli(['domain:remove', 'two.example', '--confirm', 'one.example'])).code).toBe(2);
    expect((await cli(['domain:remove', 'two.example', '--site', 'beta', '--confirm', 'two.example'])).code).toBe(4);
    expect((await domains()).map((d) => d.domain)).toContain('two.example');

    const removed = await cli(['domain:remove', 'two.example', '--confirm', 'Two.Example.', '--json']);
    expect(removed.code).toBe(0);
    expect(json(removed).domain).toMatchObject({ domain: 'two.example', siteSlug: 'acme' });
    expect((await domains()).map((d) => d.domain)).toEqual(['one.example', 'three.example']);
    expect((await cli(['domain:remove', 'two.example', '--confirm', 'two.example'])).code).toBe(3);
  });
});

describe('site:resolve', () => {
  it('explains hosts that do not resolve and exits 3', async () => {
    const pending = await cli(['site:resolve', 'three.example', '--json']);
    expect(pending.code).toBe(3);
    expect(json(pending)).toMatchObject({ site: null, reason: 'three.example is attached to site "beta" but does not resolve: it is pending, and only verified domains resolve' });
    const slug = await cli(['site:resolve', `acme.${BASE}`]);
    expect(slug.code).toBe(0);
    expect(slug.stdout).toMatch(/matched by +slug subdomain of the base domain/);
  });
});

describe('domain:worker', () => {
  it('checks in a loop and on SIGTERM finishes the check in flight, records it and exits 0', async () => {
    await db.sql`delete from site_domains`;
    const record = await addAndPublish('worker.example', 'acme');
    dns.setBehaviour(record.name, 'hold');
    const child = startCli(['domain:worker', '--interval', '1s', '--timeout', '20s', '--json', '--database-url', db.url], { env: env() });
    const done = collect(child, { timeoutMs: 60_000 });
    await dns.waitForQuery(record.name, 'TXT');
    let stderr = '';
    const stopping = new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('SIGTERM: stopping')) resolve();
      });
    });
    child.kill('SIGTERM');
    await stopping;
    expect(child.exitCode).toBeNull();
    expect((await db.sql`select verification_state from site_domains where domain = 'worker.example'`)[0].verification_state).toBe('pending');
    dns.release(record.name);
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ passes: 1, checked: 1, transitions: { verified: 1 } });
    expect(await db.sql`select verification_state, check_claim from site_domains where domain = 'worker.example'`).toEqual([
      { verification_state: 'verified', check_claim: null },
    ]);
  });
});
