/**
 * Host resolution and domain verification at 10,000 sites, each with a verified custom domain.
 *
 * 1. Cached `resolver.resolve(host)` lookups per second in one process (target ≥ 1,000,000/s),
 *    next to a bare `Map.get` loop over the same keys (the ceiling).
 * 2. Uncached lookups (`resolveHost`, one connection, prepared) p50/p99 and throughput, against
 *    the same indexed statement run by pgbench -M prepared on one connection in the same run.
 * 3. `indigo-sites domain:verify --all` over the 10,000 domains against a loopback DNS server
 *    (target < 15 s at the default concurrency): once with every domain pending (10,000 audited
 *    transitions), once with every domain verified (the cron's steady state); next to the bare
 *    DNS queries at that concurrency.
 *
 * Sites are rows only (no schemas): resolution and verification never touch a site schema.
 * Run: npx tsc -p tsconfig.json && npx tsx bench/resolve.ts   (BENCH_DOMAINS to change the count)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createDnsResolver,
  createPool,
  createSiteResolver,
  DEFAULT_VERIFY_CONCURRENCY,
  initNetwork,
  RESOLVE_HOST_SQL,
  resolveHost,
  silentLogger,
} from '../dist/index.js';
import { startTestDnsServer } from '../test/support/dns-server.js';
import { benchDatabase, fmt, percentile, verdict } from './support.js';

const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 10_000);
const CACHED_LOOKUPS = 5_000_000;
const UNCACHED_SECONDS = 5;
const binRun = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');
const hostOf = (i: number) => `b${String(i).padStart(5, '0')}.bench-resolve.example`;

const db = await benchDatabase('indigo_bench_resolve');
const pool = createPool(db.url, { max: 4 });
const dns = await startTestDnsServer();
const work = mkdtempSync(path.join(tmpdir(), 'indigo-bench-resolve-'));
try {
  await initNetwork({ sql: pool, actor: { kind: 'operator', name: 'bench' }, log: silentLogger });
  await pool`
    insert into public.sites (slug, name, schema_name)
    select 'bench-' || lpad(i::text, 5, '0'), 'Bench ' || i, 'site_bench_' || lpad(i::text, 5, '0') from generate_series(1, ${DOMAINS}) i`;
  const rows = await pool<{ domain: string; token: string }[]>`
    insert into public.site_domains (site_id, domain, token, verification_state, verified_at)
    select id, 'b' || substr(slug, 7) || '.bench-resolve.example', md5(slug), 'verified', now()
    from public.sites where slug like 'bench-%'
    returning domain, token`;
  await pool`analyze public.sites, public.site_domains`;
  const hosts = Array.from({ length: DOMAINS }, (_, i) => hostOf(i + 1));
  console.log(`resolve: ${DOMAINS} sites, each with a verified custom domain`);

  // 1. Cached lookups.
  const resolver = createSiteResolver({ sql: pool, baseDomain: 'sites.bench.example', maxEntries: DOMAINS * 2 });
  await resolver.ready;
  for (const host of hosts) await resolver.resolve(host);
  // The ceiling: a Map of already-settled promises, awaited the same way.
  const map = new Map(hosts.map((host) => [host, Promise.resolve(host)]));
  let sink = 0;
  let started = performance.now();
  for (let i = 0; i < CACHED_LOOKUPS; i++) if ((await map.get(hosts[i % DOMAINS]!)) !== undefined) sink++;
  const mapRate = CACHED_LOOKUPS / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < CACHED_LOOKUPS; i++) if ((await resolver.resolve(hosts[i % DOMAINS]!)) !== null) sink++;
  const cachedRate = CACHED_LOOKUPS / ((performance.now() - started) / 1000);
  if (sink !== 2 * CACHED_LOOKUPS) throw new Error('a cached lookup missed');
  await resolver.close();
  console.log(`  cached resolve (await, LRU touch)   ${fmt(cachedRate / 1e6, 2)} M lookups/s  (target ≥ 1 M/s: ${verdict(cachedRate >= 1_000_000)})`);
  console.log(`  await Map.get, same keys (ceiling)  ${fmt(mapRate / 1e6, 2)} M lookups/s  (resolver at ${fmt((cachedRate / mapRate) * 100)} % of it)`);

  // 2. Uncached lookups: the library vs pgbench, on one connection (latency) and on four (throughput).
  /** Lookups of random hosts by `clients` concurrent callers on a pool of `clients` connections; latencies in ms. */
  const uncached = async (clients: number): Promise<number[]> => {
    const sql = createPool(db.url, { max: clients });
    await Promise.all(Array.from({ length: clients }, () => sql`select 1`));
    const latencies: number[] = [];
    const deadline = performance.now() + UNCACHED_SECONDS * 1000;
    let i = 0;
    await Promise.all(Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const host = hosts[(i++ * 7919) % DOMAINS]!;
        const t0 = performance.now();
        if ((await resolveHost(host, { sql, baseDomain: 'sites.bench.example' })) === null) throw new Error(`${host} did not resolve`);
        latencies.push(performance.now() - t0);
      }
    }));
    await sql.end();
    return latencies;
  };
  /** The client library's own round trip, for scale: `select 1` on one connection. */
  const roundTrips: number[] = [];
  const probe = createPool(db.url, { max: 1 });
  for (let i = 0; i < 5000; i++) {
    const t0 = performance.now();
    await probe`select 1`;
    roundTrips.push(performance.now() - t0);
  }
  await probe.end();
  const latencies = await uncached(1);
  const libraryRate = latencies.length / UNCACHED_SECONDS;
  const libraryRate4 = (await uncached(4)).length / UNCACHED_SECONDS;

  // The same statement; pgbench has no string variables, so the host is built from a random number.
  const script = path.join(work, 'resolve.sql');
  writeFileSync(script, `\\set n random(1, ${DOMAINS})\n${RESOLVE_HOST_SQL.replace('$1', "'b' || lpad(:n::text, 5, '0') || '.bench-resolve.example'").replace('$2', "'bench-' || lpad(:n::text, 5, '0')").replace(/\s+/g, ' ').trim()};\n`);
  const pgbench = (clients: number, log: boolean) => {
    const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(UNCACHED_SECONDS), '-f', script];
    const run = spawnSync('pgbench', [...args, ...(log ? ['-l', '--log-prefix', path.join(work, 'pgbench')] : []), db.url], { encoding: 'utf8', cwd: work });
    if (run.status !== 0) throw new Error(`pgbench failed: ${run.stderr}`);
    return Number(/tps = ([\d.]+)/.exec(run.stdout)?.[1]);
  };
  pgbench(1, true);
  const pgRate4 = pgbench(4, false);
  const pgLatencies = readdirSync(work)
    .filter((file) => file.startsWith('pgbench'))
    .flatMap((file) => readFileSync(path.join(work, file), 'utf8').trim().split('\n'))
    .map((line) => Number(line.split(' ')[2]) / 1000);
  const pgRate = pgLatencies.length / UNCACHED_SECONDS;
  const ms = (value: number) => `${fmt(value, 3)} ms`;
  console.log(`  uncached resolveHost, 1 connection  p50 ${ms(percentile(latencies, 50))}  p99 ${ms(percentile(latencies, 99))}  ${fmt(libraryRate, 0)} lookups/s`);
  console.log(`  pgbench -M prepared, 1 connection   p50 ${ms(percentile(pgLatencies, 50))}  p99 ${ms(percentile(pgLatencies, 99))}  ${fmt(pgRate, 0)} queries/s`);
  console.log(`  postgres.js select 1, 1 connection  p50 ${ms(percentile(roundTrips, 50))}  (the client's own round trip)`);
  console.log(`  ratio (library p50 / pgbench p50)   ${fmt(percentile(latencies, 50) / percentile(pgLatencies, 50), 2)}x; cached is ${fmt(cachedRate / libraryRate, 0)}x the uncached rate`);
  console.log(`  4 connections: resolveHost ${fmt(libraryRate4, 0)} lookups/s, pgbench ${fmt(pgRate4, 0)} queries/s  (ratio ${fmt(pgRate4 / libraryRate4, 2)}x)`);

  // 3. domain:verify --all over every domain (the cron's steady state: all verified, all re-checked).
  for (const { domain, token } of rows) dns.setRecords(`_indigo-challenge.${domain}`, [{ type: 'TXT', value: `indigo-site-verification=${token}` }]);
  const dnsResolver = createDnsResolver({ servers: [dns.serversEnv] });
  let next = 0;
  started = performance.now();
  await Promise.all(Array.from({ length: DEFAULT_VERIFY_CONCURRENCY }, async () => {
    while (next < rows.length) await dnsResolver.resolveTxt(`_indigo-challenge.${rows[next++]!.domain}`);
  }));
  const dnsOnlyMs = performance.now() - started;

  const verifyAll = async () => {
    const t0 = performance.now();
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // Asynchronous spawn: the DNS server answers from this process's event loop meanwhile.
      const child = spawn(process.execPath, [binRun, 'domain:verify', '--all', '--json', '--database-url', db.url], {
        env: { ...process.env, INDIGO_DNS_SERVERS: dns.serversEnv, NO_COLOR: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const wallMs = performance.now() - t0;
    if (run.code !== 0) throw new Error(`domain:verify --all exited ${run.code}: ${run.stderr}`);
    const result = JSON.parse(run.stdout) as { checked: number; outcomes: { verified: number }; transitions: { verified: number }; durationMs: number };
    if (result.checked !== DOMAINS || result.outcomes.verified !== DOMAINS) throw new Error(`domain:verify --all checked ${result.checked}, verified ${result.outcomes.verified}`);
    return { wallMs, result };
  };
  const report = (what: string, { wallMs, result }: Awaited<ReturnType<typeof verifyAll>>) =>
    console.log(`  domain:verify --all, ${what}: ${fmt(wallMs / 1000, 2)} s wall (${fmt(result.durationMs / 1000, 2)} s in the pass, ${result.transitions.verified} newly verified)  (target < 15 s: ${verdict(wallMs < 15_000)})`);

  // First the onboarding burst (every domain pending: 10,000 transitions, each audited), then the
  // cron's steady state (every domain verified and re-checked).
  await pool`update public.site_domains set verification_state = 'pending', verified_at = null, token_expires_at = now() + interval '7 days', last_checked_at = null`;
  report(`${DOMAINS} pending domains`, await verifyAll());
  report(`${DOMAINS} verified domains`, await verifyAll());
  console.log(`  the same TXT queries alone at concurrency ${DEFAULT_VERIFY_CONCURRENCY}: ${fmt(dnsOnlyMs / 1000, 2)} s (the floor for both)`);
} finally {
  await dns.close();
  await pool.end({ timeout: 5 });
  await db.drop();
  rmSync(work, { recursive: true, force: true });
}
