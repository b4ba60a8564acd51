import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binRun, cliEnv, json, runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { networkState } from './network-state.js';

/** The CLI end to end: users, members, --as / INDIGO_ACTOR and the active site, on real PostgreSQL. */
let db: TestDatabase;
let other: TestDatabase;
let configDir: string;

const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
  runCli([...args, '--database-url', db.url], { env: { INDIGO_SITES_CONFIG_DIR: configDir, ...env } });
const state = () => networkState(db.sql);

beforeAll(async () => {
  db = await createTestDatabase();
  other = await createTestDatabase();
  configDir = mkdtempSync(path.join(tmpdir(), 'indigo-config-'));
  const inits = await Promise.all([db, other].map((database) => runCli(['init', '--admin-email', 'ops@example.com', '--database-url', database.url])));
  for (const init of inits) expect(init.code, init.stderr).toBe(0);
  const creates = await Promise.all([cli(['site:create', 'acme']), cli(['site:create', 'beta']), runCli(['site:create', 'acme', '--database-url', other.url])]);
  for (const create of creates) expect(create.code, create.stderr).toBe(0);
});
afterAll(async () => {
  await db?.drop();
  await other?.drop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe('user commands', () => {
  it('user:add prints the user as JSON, stored with the domain lowercased', async () => {
    const result = await cli(['user:add', 'Ana@Example.COM', '--name', 'Ana Lima', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ email: 'Ana@example.com', name: 'Ana Lima', networkRole: 'none' });
    expect((await cli(['user:add', 'staff@example.com', '--network-role', 'staff'])).stdout).toMatch(/Added user staff@example.com/);
    expect((await cli(['user:add', 'nobody@example.com'])).code).toBe(0);
  });

  it('user:add of an existing email in another case exits 4 with a JSON error', async () => {
    const before = await state();
    const result = await cli(['user:add', 'ana@example.com', '--json']);
    expect(result.code).toBe(4);
    expect(json(result).error).toMatchObject({ code: 'CONFLICT', exitCode: 4, message: 'user Ana@example.com already exists (network role none)' });
    expect(await state()).toEqual(before);
  });

  it.concurrent.each([
    [['user:add', 'not-an-email'], /invalid email "not-an-email": expected name@domain.tld/],
    [['user:add', 'x@example.com', '--network-role', 'root'], /Expected --network-role=root to be one of: none, staff, superadmin/],
    [['user:add'], /missing argument EMAIL/],
    [['user:role', 'ana@example.com', 'owner'], /Expected owner to be one of: none, staff, superadmin/],
  ])('%j exits 2 naming the rule and changes nothing', async (args, message) => {
    const before = await state();
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await state()).toEqual(before);
  });

  it('user:role changes the network role; an unknown user exits 3', async () => {
    const result = await cli(['user:role', 'STAFF@example.com', 'superadmin', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ changed: true, previousRole: 'staff', user: { networkRole: 'superadmin' } });
    expect((await cli(['user:role', 'staff@example.com', 'staff'])).stdout).toMatch(/staff@example.com: network role superadmin → staff/);
    const unknown = await cli(['user:role', 'ghost@example.com', 'staff']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no user with email ghost@example.com/);
  });

  it('user:list prints a table, and --json an array', async () => {
    const table = await cli(['user:list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/Ana@example.com\s*\|\s*Ana Lima\s*\|\s*none/);
    expect(table.stdout).toMatch(/4 users/);
    const staff = json(await cli(['user:list', '--network-role', 'staff', '--json']));
    expect(staff.map((user: { email: string }) => user.email)).toEqual(['staff@example.com']);
  });
});

describe('member commands', () => {
  it('member:add adds a known user; an unknown email exits 3 unless --create-user', async () => {
    expect(json(await cli(['member:add', '--site', 'acme', 'ana@example.com', '--role', 'owner', '--json']))).toMatchObject({ changed: true, member: { role: 'owner' } });
    const before = await state();
    const unknown = await cli(['member:add', '--site', 'acme', 'ben@example.com', '--role', 'editor']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no user with email ben@example.com: .*--create-user/);
    expect(await state()).toEqual(before);
    const created = await cli(['member:add', '--site', 'acme', 'ben@example.com', '--role', 'editor', '--create-user']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Added ben@example.com to acme as editor \(new user\)/);
  });

  it.concurrent.each([
    [['member:add', '--site', 'acme', 'cy@example.com'], /missing flag --role/],
    [['member:add', '--site', 'acme', '--role', 'owner'], /missing argument EMAIL/],
    [['member:add', '--site', 'acme', 'cy@example.com', '--role', 'boss'], /Expected --role=boss to be one of: owner, admin, editor, viewer/],
    [['member:role', '--site', 'acme', 'ben@example.com', 'boss'], /Expected boss to be one of: owner, admin, editor, viewer/],
    [['member:remove', '--site', 'acme', 'bad email'], /invalid email "bad email"/],
  ])('%j exits 2 and changes nothing', async (args, message) => {
    const before = await state();
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await state()).toEqual(before);
  });

  it('member:list lists owners first; member:role and member:remove guard the last owner (exit 4)', async () => {
    const list = await cli(['member:list', '--site', 'acme']);
    expect(list.stdout).toMatch(/Ana@example.com\s*\|\s*Ana Lima\s*\|\s*owner[\s\S]*ben@example.com\s*\|\s*-\s*\|\s*editor/);
    const before = await state();
    const attempts = [['member:remove', '--site', 'acme', 'ana@example.com'], ['member:role', '--site', 'acme', 'ana@example.com', 'viewer']];
    for (const refused of await Promise.all(attempts.map((args) => cli([...args, '--json'])))) {
      expect(refused.code).toBe(4);
      expect(json(refused).error.message).toBe('Ana@example.com is the last owner of site "acme": a site keeps at least one owner, so make another member owner first');
    }
    expect(await state()).toEqual(before);
    expect((await cli(['member:role', '--site', 'acme', 'ben@example.com', 'owner'])).stdout).toMatch(/ben@example.com on acme: editor → owner/);
    expect((await cli(['member:remove', '--site', 'acme', 'ana@example.com'])).stdout).toMatch(/Removed Ana@example.com \(owner\) from acme/);
    expect(json(await cli(['member:list', '--site', 'acme', '--json'])).map((member: { email: string }) => member.email)).toEqual(['ben@example.com']);
  });

  it('an unknown site exits 3', async () => {
    const result = await cli(['member:list', '--site', 'nope']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/site "nope" does not exist/);
  });
});

describe('the CLI actor: --as and INDIGO_ACTOR', () => {
  it('without INDIGO_ACTOR the audit log records the OS user', async () => {
    const [entry] = await db.sql`select actor from audit_log where action = 'member.add' order by id limit 1`;
    expect(entry!.actor).toBe(userInfo().username);
  });

  it('a superadmin acts with full rights and the audit log records the email', async () => {
    const result = await cli(['member:add', '--site', 'beta', 'ana@example.com', '--role', 'owner'], { INDIGO_ACTOR: 'OPS@example.com' });
    expect(result.code, result.stderr).toBe(0);
    const [entry] = await db.sql`select actor, action, site_slug from audit_log order by id desc limit 1`;
    expect({ ...entry }).toEqual({ actor: 'ops@example.com', action: 'member.add', site_slug: 'beta' });
  });

  it('staff may list sites but not show one, change one or see its members (exit 4); nothing changes', async () => {
    const before = await state();
    const list = await cli(['site:list', '--json', '--as', 'staff@example.com']);
    expect(list.code, list.stderr).toBe(0);
    expect(json(list).map((site: { slug: string }) => site.slug)).toEqual(['acme', 'beta', 'network']);
    const attempts = [['site:show', 'acme'], ['site:update', 'acme', '--name', 'Hacked'], ['member:list', '--site', 'acme'], ['user:add', 'x@example.com'], ['site:create', 'mine']];
    const outcomes = await Promise.all(attempts.map((args) => cli([...args, '--json'], { INDIGO_ACTOR: 'staff@example.com' })));
    for (const [index, refused] of outcomes.entries()) {
      expect(refused.code, attempts[index]!.join(' ')).toBe(4);
      expect(json(refused).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/^staff@example.com \(network role staff\) may not [a-z]+\.[a-zA-Z]+: it needs network role superadmin$/) });
    }
    expect(await state()).toEqual(before);
  });

  it('--as wins over INDIGO_ACTOR', async () => {
    const result = await cli(['user:list', '--json', '--as', 'ops@example.com'], { INDIGO_ACTOR: 'nobody@example.com' });
    expect(result.code, result.stderr).toBe(0);
  });

  it('an unknown email exits 3 naming it; a malformed one exits 2', async () => {
    const unknown = await cli(['site:list'], { INDIGO_ACTOR: 'Ghost@Example.com' });
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/no user with email Ghost@example.com to act as \(INDIGO_ACTOR \/ --as\)/);
    const malformed = await cli(['site:list', '--as', 'ghost']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/invalid email "ghost"/);
  });
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
    expect(json(explicit).map((member: { email: string }) => member.email)).toEqual(['Ana@example.com']);
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
    expect((await cli(['site:create', 'doomed'])).code).toBe(0);
    expect((await cli(['member:add', '--site', 'doomed', 'ana@example.com', '--role', 'owner'])).code).toBe(0);
    expect((await cli(['site:use', 'doomed'])).code).toBe(0);
    await db.sql`update sites set deleted_at = now(), deleted_by = 'test' where slug = 'doomed'`;
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
    await db.sql`delete from sites where slug = 'doomed'`;
    await db.sql`drop schema site_doomed cascade`;
    const gone = await cli(['member:list']);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/the active site "doomed" no longer exists \(it was deleted for good\)/);
    expect((await cli(['site:create', 'doomed'])).code).toBe(0);
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

/** `script` gives the CLI a real pseudo-terminal; each RegExp step waits for new output, each string is typed. */
function atTerminal(args: string[], steps: (string | RegExp)[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, binRun, ...args].map((part) => `'${part}'`).join(' ');
    const env = cliEnv({ CI: undefined, DATABASE_URL: db.url, INDIGO_SITES_CONFIG_DIR: configDir });
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env });
    let screen = '';
    let closed = false;
    const plain = () => screen.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    child.stdout.on('data', (chunk) => { screen += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      closed = true;
      resolve({ code, screen: plain() });
    });
    (async () => {
      let seen = 0;
      for (const step of steps) {
        if (typeof step === 'string') {
          child.stdin.write(step);
          continue;
        }
        while (!closed && !step.test(plain().slice(seen))) await new Promise((r) => setTimeout(r, 25));
        if (closed) return;
        seen = plain().length;
      }
    })();
  });
}
