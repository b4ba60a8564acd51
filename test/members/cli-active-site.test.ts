import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, addUser, createSite } from '../../src/index.js';
import { hardDeleteSite } from '../../src/lib/lifecycle/hard-delete.js';
import { softDeleteSite } from '../../src/lib/lifecycle/soft-delete.js';
import { json, runCli } from '../support/cli.js';
import { atTerminal as atTerminalWith, type TerminalStep } from '../support/terminal.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { catalogSnapshot } from '../support/catalog.js';

/** The active site end to end: site:use, and --site defaulting to it, on real PostgreSQL. */
let net: TestNetwork;
let other: TestNetwork;
let configDir: string;

const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
  runCli([...args, '--database-url', net.url], { env: { INDIGO_SITES_CONFIG_DIR: configDir, ...env } });
const state = () => catalogSnapshot(net.sql);

beforeAll(async () => {
  // Set up through the library: the commands under test are the ones below.
  [net, other] = await Promise.all([createTestNetwork(), createTestNetwork()]);
  configDir = mkdtempSync(path.join(tmpdir(), 'indigo-config-'));
  for (const slug of ['acme', 'beta']) await createSite(net.ctx, { slug });
  await createSite(other.ctx, { slug: 'acme' });
  await addUser(net.ctx, { email: 'staff@example.com', networkRole: 'staff' });
  await addUser(net.ctx, { email: 'nobody@example.com' });
  await addMember(net.ctx, { site: 'acme', email: 'ben@example.com', role: 'owner', createUser: true });
  await addMember(net.ctx, { site: 'beta', email: 'ana@example.com', role: 'owner', createUser: true });
});
afterAll(async () => {
  await net?.drop();
  await other?.drop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('the active site', () => {
  const activeFile = () => path.join(configDir, 'active-site.json');

  it('without --site and without an active site, a command exits 2 naming --site', async () => {
    const result = await cli(['member:list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing flag --site: pass --site SLUG, or choose an active site with indigo-sites site:use SLUG/);
  });

  it('site:use stores it per database; --site defaults to it and says so on stderr, stdout stays JSON', async () => {
    const use = await cli(['site:use', 'acme', '--json']);
    expect(use.code, use.stderr).toBe(0);
    expect(json(use).activeSite).toMatchObject({ slug: 'acme', name: 'Acme', siteId: expect.any(Number) });
    const stored = JSON.parse(readFileSync(activeFile(), 'utf8'));
    expect(Object.values(stored.databases)).toEqual([expect.objectContaining({ slug: 'acme' })]);

    const list = await cli(['member:list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toMatch(/using the active site acme/);
    expect(json(list).map((member: { email: string }) => member.email)).toEqual(['ben@example.com']);
    const explicit = await cli(['member:list', '--site', 'beta', '--json']);
    expect(explicit.stderr).not.toMatch(/active site/);
    expect(json(explicit).map((member: { email: string }) => member.email)).toEqual(['ana@example.com']);
    expect(json(await cli(['site:use', '--show', '--json'])).activeSite).toMatchObject({ slug: 'acme' });
  });

  it('another database does not see it', async () => {
    const result = await runCli(['member:list', '--database-url', other.url], { env: { INDIGO_SITES_CONFIG_DIR: configDir } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing flag --site/);
  });

  it('staff may choose the active site; a user with network role none may not (exit 4)', async () => {
    expect((await cli(['site:use', 'beta'], { INDIGO_ACTOR: 'staff@example.com' })).code).toBe(0);
    const refused = await cli(['site:use', 'acme'], { INDIGO_ACTOR: 'nobody@example.com' });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/nobody@example.com \(network role none\) may not site.use/);
    expect(json(await cli(['site:use', '--show', '--json'])).activeSite).toMatchObject({ slug: 'beta' });
  });

  it('site:use of an unknown site exits 3 and keeps the active site', async () => {
    const result = await cli(['site:use', 'nope']);
    expect(result.code).toBe(3);
    expect(json(await cli(['site:use', '--show', '--json'])).activeSite).toMatchObject({ slug: 'beta' });
  });

  it('site:use without a slug and without a terminal exits 2 naming the argument', async () => {
    const result = await cli(['site:use']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing argument SLUG/);
  });

  it('a stored active site that was soft-deleted since is reported (exit 4) and not used', async () => {
    await createSite(net.ctx, { slug: 'doomed' });
    await addMember(net.ctx, { site: 'doomed', email: 'ana@example.com', role: 'owner' });
    expect((await cli(['site:use', 'doomed'])).code).toBe(0);
    await softDeleteSite(net.ctx, { slug: 'doomed' });
    const before = await state();
    const attempts = [['member:list'], ['member:add', 'ben@example.com', '--role', 'viewer'], ['site:use', '--show']];
    const outcomes = await Promise.all(attempts.map((args) => cli(args)));
    for (const [index, result] of outcomes.entries()) {
      expect(result.code, attempts[index]!.join(' ')).toBe(4);
      expect(result.stderr).toMatch(/the active site "doomed" was deleted on .*: restore it, or choose another with indigo-sites site:use SLUG, or pass --site/);
      expect(result.stdout).toBe('');
    }
    expect(await state()).toEqual(before);
    const refused = await cli(['site:use', 'doomed']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/site "doomed" is deleted: restore it before making it the active site/);
  });

  it('a stored active site deleted for good, even with its slug taken again, is reported (exit 3) and not used', async () => {
    await hardDeleteSite(net.ctx, { slug: 'doomed', confirm: 'doomed' });
    const gone = await cli(['member:list']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/the active site "doomed" no longer exists \(it was deleted for good\)/);
    await createSite(net.ctx, { slug: 'doomed' });
    const successor = await cli(['member:list', '--json']);
    expect(successor.code).toBe(3);
    expect(json(successor).error.message).toMatch(/no longer exists \(it was deleted for good; a newer site now has the slug "doomed"\)/);
  });

  it('site:use --clear forgets it, once', async () => {
    expect(json(await cli(['site:use', '--clear', '--json']))).toMatchObject({ activeSite: null, cleared: { slug: 'doomed' } });
    expect((await cli(['site:use', '--clear'])).stdout).toMatch(/No active site for .*: nothing to forget/);
    expect((await cli(['member:list'])).code).toBe(2);
  });

  it('a corrupt active-site file is reported (exit 4), and site:use rewrites it', async () => {
    writeFileSync(activeFile(), '{"version": 1, "databases": ');
    const result = await cli(['member:list']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/cannot read the active site from .*active-site.json/);
    const rewrite = await cli(['site:use', 'acme']);
    expect(rewrite.code).toBe(0);
    expect(rewrite.stderr).toMatch(/warning: replacing the unreadable .*active-site.json/);
    expect((await cli(['member:list'])).code).toBe(0);
  });

  it('site:use with no argument at a terminal offers a searchable list', async () => {
    const { code, screen } = await atTerminal(['site:use'], [/Active site/, 'bet', /beta/, '\r']);
    expect(screen).toMatch(/Active site: beta \(Beta\)/);
    expect(code).toBe(0);
    expect(json(await cli(['site:use', '--show', '--json'])).activeSite).toMatchObject({ slug: 'beta' });
  }, 30_000);
});

function atTerminal(args: string[], steps: TerminalStep[]) {
  return atTerminalWith(args, steps, { DATABASE_URL: net.url, INDIGO_SITES_CONFIG_DIR: configDir });
}
