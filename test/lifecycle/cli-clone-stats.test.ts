import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSite, softDeleteSite, suspendSite } from '../../src/index.js';
import { json } from '../support/cli.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { cliFor } from './cli-support.js';
import { seedContent } from './fixtures.js';

/** site:clone, site:stats and audit:list end to end. */
let network: TestNetwork;
let run: ReturnType<typeof cliFor>;

beforeAll(async () => {
  network = await createTestNetwork();
  run = cliFor(network);
  const { site } = await createSite(network.ctx, { slug: 'shop' });
  await seedContent(network.sql, site.schemaName, { posts: 40, categories: 4 });
  await suspendSite(network.ctx, { slug: 'shop', reason: 'billing' });
});
afterAll(async () => {
  await network?.drop();
});

describe('site:clone', () => {
  it('prints plain progress lines on stderr without a terminal, and the new site on stdout', async () => {
    const result = await run.cli(['site:clone', 'shop', 'shop-copy', '--name', 'Shop Copy']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/clone: copied cms_posts: 40 rows/);
    expect(result.stderr).toMatch(/clone: add foreign keys: 7 foreign keys/);
    expect(result.stdout).toMatch(/Cloned site shop into shop-copy\./);
    expect(result.stdout).toMatch(/name\s+Shop Copy/);
  });

  it('--json prints the result only; --schema-only and --with-members are passed through', async () => {
    const result = await run.cli(['site:clone', 'shop', 'shop-empty', '--schema-only', '--with-members', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ site: { slug: 'shop-empty', status: 'active' }, schemaOnly: true, migrations: ['0000_cms'], members: 0 });
    expect((await network.sql`select count(*)::int as n from site_shop_empty.cms_posts`)[0]!.n).toBe(0);
  });

  it('refuses a missing source (3), a deleted source (4), a bad target slug (2) and a missing target (2), creating nothing', async () => {
    await run.expectRefused(['site:clone', 'nope', 'nope-copy'], 3, /site "nope" does not exist/);
    await run.expectRefused(['site:clone', 'shop', 'Shop_Copy'], 2, /invalid slug "Shop_Copy": the slug must be lowercase/);
    await run.expectRefused(['site:clone', 'shop'], 2, /missing argument TARGET/);
    await softDeleteSite(network.ctx, { slug: 'shop-empty' });
    await run.expectRefused(['site:clone', 'shop-empty', 'again'], 4, /site "shop-empty" is deleted and cannot be cloned; restore it first/);
  });

  it('shows per-table progress with listr2 at a terminal', async () => {
    const { code, screen } = await run.atTerminal(['site:clone', 'shop', 'shop-tty'], []);
    expect(code).toBe(0);
    expect(screen).toMatch(/✔ Copy cms_posts: 40 rows/);
    expect(screen).toMatch(/✔ Build primary keys, unique constraints and indexes/);
    expect(screen).toMatch(/✔ Check that nothing refers to the source/);
    expect(screen).toMatch(/Cloned site shop into shop-tty\./);
  });
});

describe('site:stats and audit:list', () => {
  it('site:stats prints the summary, and --json the same figures', async () => {
    const human = await run.cli(['site:stats', '--top', '2']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/sites\s+\d+ \(\d+ active, 1 suspended, 1 deleted\)/);
    expect(human.stdout).toMatch(/Largest site schemas/);
    const body = json(await run.cli(['site:stats', '--top', '2', '--json']));
    expect(body.size.top).toHaveLength(2);
    expect(body.sites).toMatchObject({ suspended: 1, deleted: 1 });
    expect(body.drift).toEqual({ schemasWithoutSite: [], sitesWithoutSchema: [] });
    expect(body.migrations).toMatchObject({ available: ['0000_cms'], sitesBehind: 0 });
  });

  it('audit:list shows who did what, filtered by site, newest first; refuses a bad limit and an unknown site', async () => {
    const entries = json(await run.cli(['audit:list', '--site', 'shop', '--json']));
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['site.suspend', 'site.create']);
    expect(entries[0]).toMatchObject({ siteSlug: 'shop', details: { reason: 'billing' } });
    const table = await run.cli(['audit:list', '--limit', '1']);
    expect(table.stdout).toMatch(/site\.clone\s*\|\s*shop-tty/);
    await run.expectRefused(['audit:list', '--limit', '0'], 2, /Expected an integer greater than or equal to 1/);
    await run.expectRefused(['audit:list', '--site', 'never-was'], 3, /no site "never-was" and no audit entries for it/);
  });
});
