/**
 * bench/migrate-sites: `indigo-sites migrate:sites` over many site schemas vs the floor — the same
 * SQL for every schema piped through `psql` sessions at the same concurrency, in the same run.
 *
 * Setup (not timed): a throwaway database, the network tables, BENCH_SITES (default 1,000) site
 * schemas with the CMS tables and 20 posts each, created from the packaged migrations with raw
 * SQL over 4 connections (site:create's code path is benchmarked by bench/site-create).
 * The migration: add a column, index it, update every row (plus the history row).
 * For each concurrency 1, 2, 4, 8: the CLI run and the psql floor, each followed by an untimed
 * revert (drop the column, delete the history row) so the next run has the same work; BENCH_ROUNDS
 * (default 3) rounds alternating which goes first; medians reported, and the median of each
 * round's CLI/floor ratio ("paired").
 * Then: a run with nothing pending, and the CLI's peak RSS (VmHWM) per run.
 *
 * Run: npx tsc -p tsconfig.json && npx tsx bench/migrate-sites.ts
 *   BENCH_SITES=5000 to check memory against the site count, BENCH_CONCURRENCY=4,8 to shorten it;
 *   BENCH_DATABASE_URL/DATABASE_URL.
 * Targets: best concurrency within 1.3x of the floor's best; nothing pending over 1,000 sites
 * < 3 s; CLI memory flat in the number of sites.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, initNetwork, loadSiteMigrations, packagedSiteMigrationsDir, siteMigrationBatch, silentLogger, historyInsert } from '../src/index.js';
import { benchDatabase, fmt, median, verdict } from './support.js';

const SITES = Number(process.env.BENCH_SITES ?? 1000);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,2,4,8').split(',').map(Number);
const POSTS_PER_SITE = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const binRun = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');

const MIGRATION_NAME = '0001_word_count';
const MIGRATION_SQL = `alter table cms_posts add column word_count integer not null default 0;
create index cms_posts_word_count_idx on cms_posts (word_count);
update cms_posts set word_count = coalesce(array_length(regexp_split_to_array(body, '\\s+'), 1), 0);
`;

interface Timed {
  ms: number;
  peakRssKb?: number;
  /** user + system CPU seconds of the process. */
  cpuSeconds?: number;
  output?: string;
}

/** Runs a process to completion; `rss` wraps it in /usr/bin/time -v for its peak resident set. */
function run(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; rss?: boolean } = {}): Promise<Timed> {
  const [bin, argv] = options.rss ? ['/usr/bin/time', ['-v', command, ...args]] : [command, args];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`${command} exited ${code}\n${stderr.slice(-2000)}`));
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const cpu = [/User time \(seconds\): ([\d.]+)/, /System time \(seconds\): ([\d.]+)/].map((pattern) => Number(pattern.exec(stderr)?.[1] ?? NaN));
      resolve({ ms, peakRssKb: rss ? Number(rss[1]) : undefined, cpuSeconds: cpu[0] + cpu[1], output: stdout });
    });
    child.stdin.end(options.input ?? '');
  });
}

function chunked<T>(items: T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, part) => items.filter((_, i) => i % parts === part));
}

const db = await benchDatabase('indigo_bench_migrate');
const migrationsDir = mkdtempSync(path.join(tmpdir(), 'indigo-bench-migrations-'));
const pool = createPool(db.url, { max: 4 });
try {
  // ---- setup ----------------------------------------------------------------------------------
  const ctx = { sql: pool, actor: { kind: 'operator' as const, name: 'bench' }, log: silentLogger };
  await initNetwork(ctx);
  const packaged = await loadSiteMigrations(packagedSiteMigrationsDir);
  const schemas = Array.from({ length: SITES }, (_, i) => `site_b${i}`);
  const setupStarted = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < schemas.length) {
      const i = next++;
      const schema = schemas[i];
      await pool.unsafe(`create schema "${schema}";
${siteMigrationBatch(schema, packaged.migrations)}
insert into "${schema}".cms_posts (slug, title, body) select 'p' || g, 'Post ' || g, repeat('lorem ipsum dolor ', g) from generate_series(1, ${POSTS_PER_SITE}) g;
insert into public.sites (slug, name, schema_name) values ('b${i}', 'Bench ${i}', '${schema}');`);
    }
  }));
  const setupSeconds = (performance.now() - setupStarted) / 1000;
  console.log(`migrate-sites: ${SITES} site schemas (8 CMS tables, ${POSTS_PER_SITE} posts each) created in ${fmt(setupSeconds)} s (${fmt(SITES / setupSeconds)}/s, raw SQL, 4 connections)`);

  cpSync(packagedSiteMigrationsDir, migrationsDir, { recursive: true });
  writeFileSync(path.join(migrationsDir, `${MIGRATION_NAME}.sql`), MIGRATION_SQL);
  const journalPath = path.join(migrationsDir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
  journal.entries.push({ idx: 1, version: '7', when: journal.entries[0].when + 1, tag: MIGRATION_NAME, breakpoints: true });
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  const migration = (await loadSiteMigrations(migrationsDir)).migrations[1];

  const allSchemas = [...schemas, 'site_network'];
  const cli = (args: string[]) => run(process.execPath, [binRun, 'migrate:sites', '--database-url', db.url, '--json', ...args], {
    env: { ...process.env, INDIGO_SITE_MIGRATIONS: migrationsDir, NO_COLOR: '1' },
    rss: true,
  });
  /** The floor: per site the same transaction the runner sends, one psql session per connection. */
  const floor = (concurrency: number) => Promise.all(chunked(allSchemas, concurrency).map((group) => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', '-'], {
    input: group.map((schema) => `begin;\nset local search_path = "${schema}", public;\n${MIGRATION_SQL}${historyInsert(schema, migration, '0')}\ncommit;\n`).join(''),
  })));
  // Every run leaves dead catalog rows behind (pg_attribute, pg_class, pg_depend …) that would make
  // later runs slower than earlier ones; the revert vacuums them, untimed, so rounds are alike.
  const revert = async () => {
    await Promise.all(chunked(allSchemas, 4).map((group) => run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', '-'], {
      input: group.map((schema) => `alter table "${schema}".cms_posts drop column word_count; delete from "${schema}".indigo_migrations where name = '${MIGRATION_NAME}';\n`).join(''),
    })));
    await pool`vacuum pg_catalog.pg_attribute, pg_catalog.pg_attrdef, pg_catalog.pg_class, pg_catalog.pg_depend, pg_catalog.pg_index, pg_catalog.pg_type, public.audit_log`;
  };
  const assertAllMigrated = async () => {
    const [{ n }] = await pool.unsafe(`select count(*)::int as n from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relname = 'cms_posts' and a.attname = 'word_count' and not a.attisdropped`);
    if (n !== allSchemas.length) throw new Error(`expected ${allSchemas.length} migrated schemas, found ${n}`);
  };
  await pool`checkpoint`;

  // ---- timed runs -----------------------------------------------------------------------------
  // Each configuration runs ROUNDS times, the CLI first in odd rounds and the floor first in even
  // ones, and the median counts: other processes on the machine make single runs noisy.
  const timings = new Map<number, { cliMs: number[]; runMs: number[]; floorMs: number[]; rssKb: number[]; cpu: number[] }>(
    CONCURRENCIES.map((c) => [c, { cliMs: [], runMs: [], floorMs: [], rssKb: [], cpu: [] }]),
  );
  const timeCli = async (concurrency: number) => {
    const cliRun = await cli(['--concurrency', String(concurrency)]);
    const report = JSON.parse(cliRun.output!);
    if (report.summary.migrated !== allSchemas.length) throw new Error(`CLI migrated ${report.summary.migrated} of ${allSchemas.length}`);
    const t = timings.get(concurrency)!;
    t.cliMs.push(cliRun.ms);
    t.runMs.push(report.durationMs);
    t.rssKb.push(cliRun.peakRssKb ?? 0);
    t.cpu.push(cliRun.cpuSeconds ?? NaN);
  };
  const timeFloor = async (concurrency: number) => {
    const started = performance.now();
    await floor(concurrency);
    timings.get(concurrency)!.floorMs.push(performance.now() - started);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const concurrency of CONCURRENCIES) {
      for (const measure of round % 2 === 0 ? [timeCli, timeFloor] : [timeFloor, timeCli]) {
        await measure(concurrency);
        await assertAllMigrated();
        await revert();
        await pool`checkpoint`;
      }
    }
  }
  console.log(`\nmedian of ${ROUNDS} rounds; concurrency   indigo-sites (CLI wall)   of which the run         psql floor            ratio   paired   CLI peak RSS, CPU`);
  const rate = (ms: number) => (allSchemas.length / ms) * 1000;
  const results = CONCURRENCIES.map((concurrency) => {
    const t = timings.get(concurrency)!;
    const row = { concurrency, cliRate: rate(median(t.cliMs)), runRate: rate(median(t.runMs)), floorRate: rate(median(t.floorMs)), rssKb: Math.max(...t.rssKb) };
    // The same round's CLI and floor ran back to back: their ratio is steadier than the ratio of
    // medians when the machine's speed drifts between rounds.
    const paired = median(t.cliMs.map((ms, round) => ms / t.floorMs[round]));
    console.log(`${String(concurrency).padStart(34)}   ${fmt(row.cliRate).padStart(7)} sites/s ${fmt(median(t.cliMs) / 1000, 2).padStart(6)} s   ${fmt(row.runRate).padStart(7)} sites/s ${fmt(median(t.runMs) / 1000, 2).padStart(6)} s   ${fmt(row.floorRate).padStart(7)} sites/s ${fmt(median(t.floorMs) / 1000, 2).padStart(6)} s   ${fmt(row.floorRate / row.cliRate, 2).padStart(5)}x   ${fmt(paired, 2).padStart(5)}x   ${fmt(row.rssKb / 1024)} MB, ${fmt(median(t.cpu), 2)} s`);
    return row;
  });

  // ---- nothing pending ------------------------------------------------------------------------
  await cli([]);
  const idle = await cli([]);
  const idleReport = JSON.parse(idle.output!);
  if (idleReport.summary.upToDate !== allSchemas.length) throw new Error('expected every site up to date');

  const bestCli = results.reduce((a, b) => (b.cliRate > a.cliRate ? b : a));
  const bestFloor = results.reduce((a, b) => (b.floorRate > a.floorRate ? b : a));
  const bestRun = results.reduce((a, b) => (b.runRate > a.runRate ? b : a));
  const ratio = bestFloor.floorRate / bestCli.cliRate;
  console.log(`\nbest: indigo-sites ${fmt(bestCli.cliRate)} sites/s at concurrency ${bestCli.concurrency} (CLI start-up included), ` +
    `floor ${fmt(bestFloor.floorRate)} sites/s at ${bestFloor.concurrency}: ${fmt(ratio, 2)}x the floor (target ≤ 1.3x: ${verdict(ratio <= 1.3)}); ` +
    `without start-up ${fmt(bestRun.runRate)} sites/s at ${bestRun.concurrency}: ${fmt(bestFloor.floorRate / bestRun.runRate, 2)}x`);
  console.log(`nothing pending over ${allSchemas.length} sites: ${fmt(idle.ms / 1000, 2)} s wall, CLI start-up included (target < 3 s: ${verdict(idle.ms < 3000)}), ` +
    `${fmt(idleReport.durationMs / 1000, 2)} s in the run; peak RSS ${fmt((idle.peakRssKb ?? 0) / 1024)} MB`);
  console.log(`CLI peak RSS across runs: ${fmt(Math.max(...results.map((r) => r.rssKb)) / 1024)} MB for ${allSchemas.length} sites (compare with BENCH_SITES=5000)`);
} finally {
  await pool.end({ timeout: 5 });
  await db.drop();
  rmSync(migrationsDir, { recursive: true, force: true });
}
