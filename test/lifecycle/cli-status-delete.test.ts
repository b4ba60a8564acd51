import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSite, softDeleteSite } from '../../src/index.js';
import { catalogSnapshot } from '../support/catalog.js';
import { json } from '../support/cli.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { cliFor } from './cli-support.js';
import { addDomain, addMember, schemaExists, seedContent, siteId } from './fixtures.js';

/** site:suspend, site:unsuspend, site:delete, site:restore and site:purge end to end. */
let network: TestNetwork;
let run: ReturnType<typeof cliFor>;

beforeAll(async () => {
  network = await createTestNetwork();
  run = cliFor(network);
  for (const slug of ['acme', 'shop', 'blog-one']) {
    const { site } = await createSite(network.ctx, { slug });
    await seedContent(network.sql, site.schemaName, { posts: 40, categories: 4 });
  }
  const acme = await siteId(network.sql, 'acme');
  await addDomain(network.sql, acme, 'acme.example.com', 'verified');
  await addMember(network.sql, acme, 'owner@example.com', 'owner');
});
afterAll(async () => {
  await network?.drop();
});

describe('site:suspend and site:unsuspend', () => {
  it('suspend prints the site, a second suspend says nothing changed, unsuspend brings it back', async () => {
    const first = await run.cli(['site:suspend', 'shop', '--reason', 'billing', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(json(first)).toMatchObject({ changed: true, site: { slug: 'shop', status: 'suspended', statusReason: 'billing' } });
    const again = await run.cli(['site:suspend', 'shop']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Site shop is already suspended \(billing\): nothing changed\./);
    const back = await run.cli(['site:unsuspend', 'shop']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/Site shop is active again\./);
  });

  it('refuses the network admin site (4, JSON error) and a missing slug (2)', async () => {
    const admin = await run.cli(['site:suspend', 'network', '--json']);
    expect(admin.code).toBe(4);
    expect(json(admin).error).toMatchObject({ code: 'CONFLICT', exitCode: 4, message: expect.stringMatching(/network admin site/) });
    await run.expectRefused(['site:suspend'], 2, /Missing 1 required arg/);
  });
});

describe('site:delete and site:restore', () => {
  it('soft-deletes with a grace period, lists the site only as deleted, and restores it', async () => {
    const deleted = await run.cli(['site:delete', 'blog-one', '--grace', '7d', '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const body = json(deleted);
    expect(Date.parse(body.site.purgeAfter) - Date.parse(body.site.deletedAt)).toBe(7 * 86_400_000);
    expect(json(await run.cli(['site:list', '--status', 'deleted', '--json'])).map((s: { slug: string }) => s.slug)).toEqual(['blog-one']);
    const restored = await run.cli(['site:restore', 'blog-one']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/Restored site blog-one\./);
  });

  it('refuses a malformed grace period and --grace with --hard as usage errors', async () => {
    await run.expectRefused(['site:delete', 'blog-one', '--grace', 'soon'], 2, /invalid grace period "soon": a whole number followed by s, m, h, d or w/);
    await run.expectRefused(['site:delete', 'blog-one', '--grace', '7d', '--hard'], 2, /cannot also be provided when using --(grace|hard)/);
  });

  it('refuses a hard delete without confirmation, with --yes alone, with the wrong slug, and of an active site without --force', async () => {
    await run.expectRefused(['site:delete', 'acme', '--hard'], 4, /permanently deleting site "acme" needs its slug typed again as confirmation \(--confirm acme\)/);
    await run.expectRefused(['site:delete', 'acme', '--hard', '--yes'], 4, /needs its slug typed again/);
    await run.expectRefused(['site:delete', 'acme', '--hard', '--confirm', 'acme2'], 4, /confirmation "acme2" does not match the slug "acme"/);
    await run.expectRefused(['site:delete', 'acme', '--hard', '--confirm', 'acme'], 4, /site "acme" is not soft-deleted: .*--force/);
  });

  it('refuses a hard delete when a public view depends on the site, naming the view', async () => {
    await network.sql.unsafe('create view public.acme_titles as select title from site_acme.cms_posts');
    try {
      const refused = await run.expectRefused(['site:delete', 'acme', '--hard', '--force', '--confirm', 'acme'], 4, /refusing to drop site_acme: 1 object outside it depends on it and would disappear with it: view public\.acme_titles/);
      expect(refused.stderr).toMatch(/Drop or change it first/);
    } finally {
      await network.sql.unsafe('drop view public.acme_titles');
    }
  });

  it('hard-deletes with --force --confirm and prints what was removed', async () => {
    const result = await run.cli(['site:delete', 'acme', '--hard', '--force', '--confirm', 'acme']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Deleted site acme permanently\./);
    expect(result.stdout).toMatch(/cms_posts\s*\|\s*40/);
    expect(result.stdout).toMatch(/schema\s+site_acme \(9 tables, \d+ rows\)/);
    expect(result.stdout).toMatch(/domains\s+acme\.example\.com/);
    expect(result.stdout).toMatch(/members\s+1 \(1 owner\)/);
    expect(result.stdout).toMatch(/redis\s+skipped \(REDIS_URL is not set/);
    expect(await schemaExists(network.sql, 'site_acme')).toBe(false);
  });

  it('at a terminal, asks for the slug to be typed and deletes only when it matches', async () => {
    await createSite(network.ctx, { slug: 'typed' });
    const before = await catalogSnapshot(network.sql);
    const wrong = await run.atTerminal(['site:delete', 'typed', '--hard', '--force'], [/Type typed to confirm/, 'typo\r']);
    expect(wrong.code).toBe(4);
    expect(wrong.screen).toMatch(/confirmation "typo" does not match the slug "typed": nothing was deleted/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    const right = await run.atTerminal(['site:delete', 'typed', '--hard', '--force'], [/Type typed to confirm/, 'typed\r']);
    expect(right.code).toBe(0);
    expect(right.screen).toMatch(/Deleted site typed permanently\./);
    expect(await schemaExists(network.sql, 'site_typed')).toBe(false);
  });
});

describe('site:purge', () => {
  it('--dry-run lists due sites and changes nothing; a blocked site makes it exit 5; a second run finishes the job', async () => {
    for (const slug of ['old-one', 'old-two']) {
      await createSite(network.ctx, { slug });
      await softDeleteSite(network.ctx, { slug, graceSeconds: 0 });
    }
    const before = await catalogSnapshot(network.sql);
    const preview = await run.cli(['site:purge', '--dry-run']);
    expect(preview.code, preview.stderr).toBe(0);
    expect(preview.stdout).toMatch(/old-one\s*\|\s*would purge/);
    expect(preview.stdout).toMatch(/2 site\(s\) would be purged \(dry run: nothing changed\)/);
    expect(await catalogSnapshot(network.sql)).toEqual(before);

    await network.sql.unsafe('create view public.old_two_posts as select * from site_old_two.cms_posts');
    try {
      const partial = await run.cli(['site:purge', '--json']);
      expect(partial.code).toBe(5);
      const error = json(partial).error;
      expect(error).toMatchObject({ code: 'PARTIAL_FAILURE', exitCode: 5, message: '1 of 2 sites due could not be purged' });
      expect(error.details.result.sites.map((s: { slug: string; outcome: string }) => `${s.slug}:${s.outcome}`)).toEqual(['old-one:purged', 'old-two:failed']);
      expect(partial.stderr).toMatch(/purge: old-two failed: refusing to drop site_old_two/);
    } finally {
      await network.sql.unsafe('drop view public.old_two_posts');
    }
    const rest = await run.cli(['site:purge', '--json']);
    expect(rest.code).toBe(0);
    expect(json(rest)).toMatchObject({ purged: 1, failed: 0, sites: [{ slug: 'old-two', outcome: 'purged' }] });
  });
});
