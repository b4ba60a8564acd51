/**
 * bench/scope: what site scoping costs a request, measured against the same work done without
 * it, in the same run.
 *
 * 1. withScope + getScopedKey vs a plain function call building the same key (ns/op), both
 *    with a fresh site object per request as a handler would get one from its headers, in a
 *    synchronous and an async (one await) form: AsyncLocalStorage's cost in Node 20 lies
 *    mostly in the promise hooks it enables.
 * 2. withSiteTransaction + one SELECT vs a plain sql.begin + the same SELECT on the local
 *    PostgreSQL (throughput with 4 clients on a pool of 4): with one site and with 20 sites in
 *    rotation (PostgreSQL re-plans a prepared statement whenever search_path differs from the
 *    one it was planned under), and the naive variant that awaits set_config in its own round
 *    trip. Run twice: straight to the local server, where both processes compete for the same
 *    cores and every statement's CPU counts, and through an in-process proxy that delays each
 *    packet by 1 ms, where round trips dominate as they do with a database on another host.
 *
 * Run: npx tsx bench/scope.ts   (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 * a throwaway database is created and dropped). Targets: scope < 1 µs per request,
 * withSiteTransaction within 1.2x of the plain transaction.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import postgres from 'postgres';
import { getScopedKey, withScope, withSiteTransaction } from '../src/lib/scope/index.js';

const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits).padStart(9);
}

// ---------------------------------------------------------------------------------------------
// 1. Scope overhead

let sink = 0;

function plainHandler(site: { siteId: number; schemaName: string }): string {
  return `site:${site.siteId}:` + 'session';
}

function timeSync(iterations: number, body: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) body(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

async function timeAsync(iterations: number, body: (i: number) => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await body(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

async function benchScope(): Promise<{ sync: [number, number]; async: [number, number] }> {
  const SYNC_N = 2_000_000;
  const ASYNC_N = 500_000;
  const site = (i: number) => ({ siteId: (i & 1023) + 1, schemaName: 'site_bench' });

  const plainSync = (i: number) => {
    sink += plainHandler(site(i)).length;
  };
  const scopedSync = (i: number) => {
    sink += withScope(site(i), () => getScopedKey('session')).length;
  };
  const plainAsync = async (i: number) => {
    sink += await (async () => {
      await null;
      return plainHandler(site(i)).length;
    })();
  };
  const scopedAsync = async (i: number) => {
    sink += await withScope(site(i), async () => {
      await null;
      return getScopedKey('session').length;
    });
  };

  // Warm up both paths so the JIT has optimised them before anything is timed.
  timeSync(200_000, plainSync);
  timeSync(200_000, scopedSync);
  await timeAsync(50_000, plainAsync);
  await timeAsync(50_000, scopedAsync);

  const results = { plainSync: [] as number[], scopedSync: [] as number[], plainAsync: [] as number[], scopedAsync: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    results.plainSync.push(timeSync(SYNC_N, plainSync));
    results.scopedSync.push(timeSync(SYNC_N, scopedSync));
    results.plainAsync.push(await timeAsync(ASYNC_N, plainAsync));
    results.scopedAsync.push(await timeAsync(ASYNC_N, scopedAsync));
  }
  return {
    sync: [median(results.plainSync), median(results.scopedSync)],
    async: [median(results.plainAsync), median(results.scopedAsync)],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Transaction overhead

const SCHEMAS = 20;
const ROWS = 100;
const CLIENTS = 4;
const TX_PER_ROUND = 4_000;

async function withBenchDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `indigo_bench_scope_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(name)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end();
  }
}

async function seed(sql: postgres.Sql): Promise<string[]> {
  const schemas = Array.from({ length: SCHEMAS }, (_, i) => `site_bench${i + 1}`);
  await sql.begin(async (tx) => {
    for (const schema of ['public', ...schemas]) {
      if (schema !== 'public') await tx`create schema ${tx(schema)}`;
      await tx`create table ${tx(schema)}.posts (id bigint primary key, title text not null)`;
      await tx`insert into ${tx(schema)}.posts select g, ${schema} || ' post ' || g from generate_series(1, ${ROWS}) g`;
    }
  });
  await sql`analyze`;
  return schemas;
}

/** Runs `total` transactions from CLIENTS concurrent loops; transactions per second and this process's CPU µs per transaction. */
async function throughput(total: number, tx: (i: number) => Promise<unknown>): Promise<{ perSecond: number; cpuUs: number }> {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < total) await tx(next++);
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { perSecond: total / elapsed, cpuUs: (used.user + used.system) / total };
}

interface Measure {
  perSecond: number;
  cpuUs: number;
}

interface TxResults {
  plain: Measure;
  oneSite: Measure;
  sites: Measure;
  naive: Measure;
}

function medianMeasure(samples: Measure[]): Measure {
  return { perSecond: median(samples.map((m) => m.perSecond)), cpuUs: median(samples.map((m) => m.cpuUs)) };
}

/** A TCP proxy to `target` that holds every chunk for `delayMs` in each direction, in order. */
async function latencyProxy(target: URL, delayMs: number): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    // PostgreSQL sets TCP_NODELAY on its sockets; without it here, Nagle's algorithm would hold
    // back the second of two replies the server flushed separately until a delayed ACK (~40 ms).
    client.setNoDelay(true);
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => setTimeout(() => upstream.write(d), delayMs));
    upstream.on('data', (d) => setTimeout(() => client.write(d), delayMs));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function benchTransactions(url: string, schemas: string[], perRound: number, rounds: number): Promise<TxResults> {
  const sql = postgres(url, { max: CLIENTS, onnotice: () => {} });
  try {
    const id = (i: number) => (i % ROWS) + 1;
    const siteFor = (i: number) => ({ siteId: (i % SCHEMAS) + 1, schemaName: schemas[i % SCHEMAS]! });
    const firstSite = { siteId: 1, schemaName: schemas[0]! };

    // Every variant checks what it read, so a variant that skipped its search_path would fail.
    const check = (rows: postgres.RowList<postgres.Row[]>, expected: string) => {
      if (!(rows[0]!.title as string).startsWith(expected)) throw new Error(`read ${rows[0]!.title}, expected ${expected}`);
    };
    const select = (tx: postgres.TransactionSql, i: number) => tx`select title from posts where id = ${id(i)}`;
    const scopedTx = (site: { siteId: number; schemaName: string }, i: number) =>
      withScope(site, () => withSiteTransaction(sql, async (tx) => check(await select(tx, i), `${site.schemaName} `)));

    const variants: Record<keyof TxResults, (i: number) => Promise<unknown>> = {
      plain: (i) => sql.begin(async (tx) => check(await select(tx, i), 'public ')),
      oneSite: (i) => scopedTx(firstSite, i),
      sites: (i) => scopedTx(siteFor(i), i),
      naive: (i) => {
        const site = siteFor(i);
        return sql.begin(async (tx) => {
          await tx`select set_config('search_path', ${`"${site.schemaName}", public`}, true)`;
          check(await select(tx, i), `${site.schemaName} `);
        });
      },
    };

    // Warm-up prepares every statement on every connection.
    for (const variant of Object.values(variants)) await throughput(Math.min(perRound, 1_000), variant);
    const samples: Record<keyof TxResults, Measure[]> = { plain: [], oneSite: [], sites: [], naive: [] };
    for (let r = 0; r < rounds; r++) {
      for (const [name, variant] of Object.entries(variants) as Array<[keyof TxResults, (i: number) => Promise<unknown>]>) {
        samples[name].push(await throughput(perRound, variant));
      }
    }
    return {
      plain: medianMeasure(samples.plain),
      oneSite: medianMeasure(samples.oneSite),
      sites: medianMeasure(samples.sites),
      naive: medianMeasure(samples.naive),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** How many times longer a transaction takes than the plain one (inverse throughput ratio). */
function ratio(plain: Measure, other: Measure): string {
  return `${(plain.perSecond / other.perSecond).toFixed(2)}x`;
}

function printTx(title: string, tx: TxResults): void {
  const us = (perSecond: number) => 1e6 / perSecond;
  const row = (label: string, value: Measure) =>
    console.log(
      `  ${label.padEnd(44)} ${fmt(value.perSecond, 0)}  ${fmt(us(value.perSecond), 1)}   ${ratio(tx.plain, value)}  ${fmt(value.cpuUs, 1)}`,
    );
  console.log(`\n${title}`);
  console.log(`  ${''.padEnd(44)}      tx/s      µs/tx  vs plain  node CPU µs/tx`);
  row('plain sql.begin + SELECT', tx.plain);
  row('withScope + withSiteTransaction, 1 site', tx.oneSite);
  row(`withScope + withSiteTransaction, ${SCHEMAS} sites`, tx.sites);
  row(`awaited set_config (naive), ${SCHEMAS} sites`, tx.naive);
}

// ---------------------------------------------------------------------------------------------

const scope = await benchScope();
console.log('withScope + getScopedKey, per request (median of %d rounds)', ROUNDS);
console.log('                          plain ns/op  scoped ns/op  overhead ns  ratio');
for (const [label, [plain, scoped]] of [
  ['sync handler ', scope.sync],
  ['async handler', scope.async],
] as const) {
  console.log(`  ${label}         ${fmt(plain)}     ${fmt(scoped)}    ${fmt(scoped - plain)}  ${(scoped / plain).toFixed(2)}x`);
}

const LATENCY_MS = 1;
const { local, remote } = await withBenchDatabase(async (url) => {
  const seeder = postgres(url, { max: 1, onnotice: () => {} });
  const schemas = await seed(seeder).finally(() => seeder.end({ timeout: 5 }));
  const local = await benchTransactions(url, schemas, TX_PER_ROUND, ROUNDS);
  const proxy = await latencyProxy(new URL(url), LATENCY_MS);
  try {
    return { local, remote: await benchTransactions(proxy.url, schemas, 400, 3) };
  } finally {
    proxy.close();
  }
});
printTx(
  `transaction + one SELECT on the local PostgreSQL, ${CLIENTS} clients on a pool of ${CLIENTS} (median of ${ROUNDS} rounds of ${TX_PER_ROUND})`,
  local,
);
printTx(`the same through a proxy adding ${LATENCY_MS} ms each way (median of 3 rounds of 400)`, remote);
console.log(
  `\nscope overhead: ${(scope.async[1] - scope.async[0]).toFixed(0)} ns/request (target < 1000)` +
    `\nwithSiteTransaction vs plain (target <= 1.20): local ${ratio(local.plain, local.oneSite)} (1 site), ` +
    `${ratio(local.plain, local.sites)} (${SCHEMAS} sites); with ${LATENCY_MS} ms latency ${ratio(remote.plain, remote.sites)} (${SCHEMAS} sites)`,
);
if (sink === 42) console.log('');
