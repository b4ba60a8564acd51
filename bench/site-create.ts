/**
 * site:create throughput through the library vs the floor (the same DDL piped through one psql
 * session), and the CLI's cold start. Targets: library within 1.3x of the floor; `--help` < 400 ms.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, createSite, initNetwork, loadSiteMigrations, siteMigrationBatch, silentLogger } from '../dist/index.js';
import { benchDatabase, fmt, median, psql, verdict } from './support.js';

const SITES = Number(process.env.BENCH_SITES ?? 200);
const ROUNDS = 4; // floor and library alternate, so checkpoints and cache warmth hit both alike
const binRun = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');

const db = await benchDatabase('indigo_bench_create');
const pool = createPool(db.url, { max: 2 });
try {
  const ctx = { sql: pool, actor: { kind: 'operator' as const, name: 'bench' }, log: silentLogger };
  await initNetwork(ctx);
  const migrations = await loadSiteMigrations();

  let floorMs = 0;
  let libraryMs = 0;
  const perRound = SITES / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    let script = '';
    for (let i = 0; i < perRound; i++) {
      const schema = `site_floor_${round}_${i}`;
      script += `begin;\ncreate schema "${schema}";\n${siteMigrationBatch(schema, migrations.migrations)}\ncommit;\n`;
    }
    floorMs += psql(db.url, script);

    const started = performance.now();
    for (let i = 0; i < perRound; i++) await createSite(ctx, { slug: `lib-${round}-${i}` });
    libraryMs += performance.now() - started;
  }
  const floorRate = (SITES / floorMs) * 1000;
  const libraryRate = (SITES / libraryMs) * 1000;
  const ratio = floorRate / libraryRate;
  console.log(`site-create: ${SITES} sites, ${migrations.migrations.length} migration(s), 8 CMS tables each`);
  console.log(`  floor (psql, one session)   ${fmt(floorRate)} sites/s`);
  console.log(`  indigo-sites createSite     ${fmt(libraryRate)} sites/s`);
  console.log(`  ratio (floor / library)     ${fmt(ratio, 2)}x  (target ≤ 1.3x: ${verdict(ratio <= 1.3)})`);

  // Cold start: a fresh network with only the admin site.
  const empty = await benchDatabase('indigo_bench_cold');
  try {
    await initNetwork({ ...ctx, sql: createPool(empty.url, { max: 1 }) });
    const time = (args: string[]) => {
      const runs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const result = spawnSync(process.execPath, [binRun, ...args], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: empty.url } });
        if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
        runs.push(performance.now() - started);
      }
      return median(runs);
    };
    const help = time(['--help']);
    const list = time(['site:list', '--json']);
    const node = (() => {
      const runs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        spawnSync(process.execPath, ['-e', '0']);
        runs.push(performance.now() - started);
      }
      return median(runs);
    })();
    console.log(`cold start (median of 10):`);
    console.log(`  node -e 0 (baseline)        ${fmt(node, 0)} ms`);
    console.log(`  indigo-sites --help         ${fmt(help, 0)} ms  (${fmt(help / node, 1)}x node; target < 400 ms: ${verdict(help < 400)})`);
    console.log(`  site:list --json (empty)    ${fmt(list, 0)} ms  (${fmt(list / node, 1)}x node)`);
  } finally {
    await empty.drop();
  }
} finally {
  await pool.end();
  await db.drop();
}
