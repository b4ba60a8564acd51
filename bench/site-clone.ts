/**
 * site:clone of a site with 10,000 posts (plus 20,000 revisions, 10,000 post↔category links,
 * 200 categories and 100 media) through the library, against the same copy written by hand and
 * piped through one psql session in the same run: CREATE TABLE … (LIKE … INCLUDING ALL),
 * INSERT … SELECT, identity reset and the foreign keys, in one transaction. Target: within 1.5x.
 *
 * The hand-written copy takes shortcuts the library may not: its enum columns keep the source's
 * type, its indexes get generated names, and nothing checks that it refers only to itself.
 * Run: npx tsc -p tsconfig.json && npx tsx bench/site-clone.ts   (BENCH_POSTS to change the size)
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { cloneSite, createPool, createSite, initNetwork, silentLogger, tableRowCounts } from '../dist/index.js';
import { benchDatabase, fmt, median, psql, verdict } from './support.js';

const POSTS = Number(process.env.BENCH_POSTS ?? 10_000);
const ROUNDS = 5; // hand-written and library alternate, so checkpoints and cache warmth hit both alike
const TARGET_RATIO = 1.5;
const binRun = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js');

const TABLES = ['cms_media', 'cms_categories', 'cms_posts', 'cms_post_categories', 'cms_pages', 'cms_revisions', 'cms_menus', 'cms_settings', 'indigo_migrations'];
const IDENTITY_TABLES = ['cms_media', 'cms_categories', 'cms_posts', 'cms_pages', 'cms_revisions', 'cms_menus'];
const FOREIGN_KEYS = [
  ['cms_categories', 'cms_categories_parent_id_cms_categories_id_fk', 'parent_id', 'cms_categories', 'set null'],
  ['cms_pages', 'cms_pages_parent_id_cms_pages_id_fk', 'parent_id', 'cms_pages', 'set null'],
  ['cms_post_categories', 'cms_post_categories_post_id_cms_posts_id_fk', 'post_id', 'cms_posts', 'cascade'],
  ['cms_post_categories', 'cms_post_categories_category_id_cms_categories_id_fk', 'category_id', 'cms_categories', 'cascade'],
  ['cms_posts', 'cms_posts_featured_media_id_cms_media_id_fk', 'featured_media_id', 'cms_media', 'set null'],
  ['cms_revisions', 'cms_revisions_post_id_cms_posts_id_fk', 'post_id', 'cms_posts', 'cascade'],
  ['cms_revisions', 'cms_revisions_page_id_cms_pages_id_fk', 'page_id', 'cms_pages', 'cascade'],
];

/** The copy as an operator would write it by hand. */
function handWrittenClone(source: string, target: string, slug: string): string {
  return [
    'begin;',
    `insert into public.sites (slug, name, schema_name) values ('${slug}', '${slug}', '${target}');`,
    `create schema ${target};`,
    ...TABLES.map((t) => `create table ${target}.${t} (like ${source}.${t} including all);`),
    ...TABLES.map((t) => `insert into ${target}.${t} overriding system value select * from ${source}.${t};`),
    ...IDENTITY_TABLES.map((t) => `select setval(pg_get_serial_sequence('${target}.${t}', 'id'), (select last_value from ${source}.${t}_id_seq));`),
    ...FOREIGN_KEYS.map(([table, name, column, references, onDelete]) =>
      `alter table ${target}.${table} add constraint ${name} foreign key (${column}) references ${target}.${references} (id) on delete ${onDelete};`),
    'commit;',
  ].join('\n');
}

const db = await benchDatabase('indigo_bench_clone');
const pool = createPool(db.url, { max: 2 });
const raw = postgres(db.url, { max: 1, onnotice: () => {} });
try {
  const ctx = { sql: pool, actor: { kind: 'operator' as const, name: 'bench' }, log: silentLogger };
  await initNetwork(ctx);
  await createSite(ctx, { slug: 'source' });
  await raw.unsafe(`
    set search_path = site_source;
    insert into cms_media (path, mime_type, size_bytes) select 'media/' || i || '.jpg', 'image/jpeg', i * 1000 from generate_series(1, 100) i;
    insert into cms_categories (slug, name) select 'cat-' || i, 'Category ' || i from generate_series(1, 200) i;
    update cms_categories set parent_id = 1 + id % 10 where id > 10;
    insert into cms_posts (slug, title, excerpt, body, status, featured_media_id, published_at)
      select 'post-' || i, 'Post number ' || i, 'An excerpt of post ' || i, repeat('Lorem ipsum dolor sit amet. ', 40),
        (array['draft', 'scheduled', 'published', 'trashed'])[1 + i % 4]::cms_content_status, 1 + i % 100, now() - i * interval '1 hour'
      from generate_series(1, ${POSTS}) i;
    insert into cms_post_categories (post_id, category_id) select id, 1 + id % 200 from cms_posts;
    insert into cms_revisions (post_id, title, body) select p.id, p.title, p.body from cms_posts p, generate_series(1, 2);
    insert into cms_pages (slug, title, status) select 'page-' || i, 'Page ' || i, 'published' from generate_series(1, 50) i;
    insert into cms_settings (key, value) values ('theme', '"dark"'), ('posts_per_page', '20');
    insert into cms_menus (location, name, items) values ('main', 'Main', '[]'), ('footer', 'Footer', '[]');
    reset search_path;`);
  await raw.unsafe('vacuum analyze');
  const rows = (await tableRowCounts(pool, 'site_source')).reduce((sum, table) => sum + table.rows, 0);
  console.log(`site-clone: source with ${POSTS} posts, ${rows} rows in ${TABLES.length} tables; ${ROUNDS} rounds`);

  const startup: number[] = [];
  const handWritten: number[] = [];
  const library: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    startup.push(psql(db.url, 'select 1;'));
    handWritten.push(psql(db.url, handWrittenClone('site_source', `site_hand_${round}`, `hand-${round}`)));
    const started = performance.now();
    await cloneSite(ctx, { source: 'source', target: `lib-${round}` });
    library.push(performance.now() - started);
    // Keep the catalog the same size for every round.
    await raw.unsafe(`drop schema site_hand_${round} cascade; drop schema site_lib_${round} cascade; delete from public.sites where slug in ('hand-${round}', 'lib-${round}');`);
  }

  const cliStarted = performance.now();
  const cli = spawnSync(process.execPath, [binRun, 'site:clone', 'source', 'cli-copy', '--json', '--database-url', db.url], { encoding: 'utf8' });
  const cliMs = performance.now() - cliStarted;
  if (cli.status !== 0) throw new Error(`site:clone failed: ${cli.stderr}`);

  const handMs = median(handWritten);
  const psqlStartMs = median(startup);
  const handNetMs = handMs - psqlStartMs;
  const libraryMs = median(library);
  const ratio = libraryMs / handNetMs;
  console.log(`hand-written SQL via psql: median ${fmt(handMs)} ms (${handWritten.map((v) => fmt(v, 0)).join(', ')}), of which psql start and connect ${fmt(psqlStartMs)} ms`);
  console.log(`library cloneSite:        median ${fmt(libraryMs)} ms (${library.map((v) => fmt(v, 0)).join(', ')})`);
  console.log(`CLI site:clone, cold process: ${fmt(cliMs, 0)} ms`);
  console.log(`ratio library / hand-written (psql start excluded): ${fmt(ratio, 2)}x, target ≤ ${TARGET_RATIO}x: ${verdict(ratio <= TARGET_RATIO)}`);
  console.log(`ratio library / hand-written (psql start included): ${fmt(libraryMs / handMs, 2)}x`);
  if (ratio > TARGET_RATIO) process.exitCode = 1;
} finally {
  await raw.end();
  await pool.end();
  await db.drop();
}
