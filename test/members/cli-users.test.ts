import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, createSite } from '../../src/index.js';
import { json, runCli } from '../support/cli.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { catalogSnapshot } from '../support/catalog.js';

/** The CLI end to end: user and member commands, and --as / INDIGO_ACTOR, on real PostgreSQL. */
let net: TestNetwork;

const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli([...args, '--database-url', net.url], { env });
const state = () => catalogSnapshot(net.sql);

beforeAll(async () => {
  // Set up through the library: the commands under test are the ones below.
  net = await createTestNetwork();
  await addUser(net.ctx, { email: 'ops@example.com', networkRole: 'superadmin' });
  for (const slug of ['acme', 'beta']) await createSite(net.ctx, { slug });
});
afterAll(async () => {
  await net?.drop();
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
    const [entry] = await net.sql`select actor from audit_log where action = 'member.add' order by id limit 1`;
    expect(entry!.actor).toBe(userInfo().username);
  });

  it('a superadmin acts with full rights and the audit log records the email', async () => {
    const result = await cli(['member:add', '--site', 'beta', 'ana@example.com', '--role', 'owner'], { INDIGO_ACTOR: 'OPS@example.com' });
    expect(result.code, result.stderr).toBe(0);
    const [entry] = await net.sql`select actor, action, site_slug from audit_log order by id desc limit 1`;
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
