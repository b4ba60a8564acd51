import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  addUser,
  checkEmail,
  ConflictError,
  createSite,
  listUsers,
  normalizeEmail,
  NotFoundError,
  NotInitialisedError,
  resolveActor,
  setUserNetworkRole,
  ValidationError,
} from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { catalogSnapshot } from '../support/catalog.js';

let net: TestNetwork;
beforeAll(async () => {
  net = await createTestNetwork();
});
afterAll(async () => {
  await net?.drop();
});

describe('email rules', () => {
  it.each([
    ['Ana@Example.COM', 'Ana@example.com'],
    ['  ana@example.com ', 'ana@example.com'],
    ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
  ])('%j is normalised to %j', (input, expected) => {
    expect(normalizeEmail(input)).toBe(expected);
    expect(checkEmail(input)).toEqual({ ok: true, email: expected });
  });

  it.each([
    ['', 'the email is empty'],
    ['   ', 'the email is empty'],
    ['ana', 'expected name@domain.tld'],
    ['@example.com', 'expected name@domain.tld'],
    ['ana@', 'expected name@domain.tld'],
    ['ana@localhost', 'the domain after @ must be a hostname such as example.com (letters, digits, hyphens and dots)'],
    ['ana@-example.com', 'the domain after @ must be a hostname such as example.com (letters, digits, hyphens and dots)'],
    ['ana@example..com', 'the domain after @ must be a hostname such as example.com (letters, digits, hyphens and dots)'],
    ['ana@exa_mple.com', 'the domain after @ must be a hostname such as example.com (letters, digits, hyphens and dots)'],
    ['a na@example.com', 'the email contains spaces or control characters'],
    ['ana\u0000@example.com', 'the email contains spaces or control characters'],
    ['a@b@example.com', 'the email contains more than one @'],
    [`${'a'.repeat(65)}@example.com`, 'the part before @ is longer than 64 characters'],
    [`ana@${'a'.repeat(250)}.com`, 'the email is longer than 254 characters'],
  ])('%j is refused: %s', (input, rule) => {
    expect(checkEmail(input)).toEqual({ ok: false, rule });
    expect(() => normalizeEmail(input)).toThrow(ValidationError);
    expect(() => normalizeEmail(input)).toThrow(`invalid email ${JSON.stringify(input)}: ${rule}`);
  });
});

describe('addUser', () => {
  it('adds a user with network role none by default and records it', async () => {
    const user = await addUser(net.ctx, { email: 'Ana@Example.COM', name: ' Ana Lima ' });
    expect(user).toMatchObject({ id: expect.any(Number), email: 'Ana@example.com', name: 'Ana Lima', networkRole: 'none', createdAt: expect.any(Date) });
    const [audit] = await net.sql`select actor, action, site_id, details from audit_log order by id desc limit 1`;
    expect({ ...audit }).toEqual({ actor: 'test-operator', action: 'user.create', site_id: null, details: { email: 'Ana@example.com', name: 'Ana Lima', networkRole: 'none' } });
  });

  it('refuses an email that exists in another case (exit 4) and changes nothing', async () => {
    const before = await catalogSnapshot(net.sql);
    const error = await addUser(net.ctx, { email: 'ANA@example.com', networkRole: 'superadmin' }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toBe('user Ana@example.com already exists (network role none)');
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it.each([
    [{ email: 'x@example.com', networkRole: 'admin' }, 'invalid network role "admin": expected one of none, staff, superadmin'],
    [{ email: 'x@example.com', name: '' }, 'the user name is empty'],
    [{ email: 'x@example.com', name: 'x'.repeat(201) }, 'the user name is longer than 200 characters'],
    [{ email: 'x@example.com', name: 'a\nb' }, 'the user name contains control characters'],
    [{ email: 'x@' }, 'invalid email "x@": expected name@domain.tld'],
  ])('refuses %j with exit 2: %s', async (input, message) => {
    const before = await catalogSnapshot(net.sql);
    const error = await addUser(net.ctx, input).catch((caught) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(message);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('of five simultaneous adds of one email in different cases exactly one succeeds', async () => {
    const emails = ['race@example.com', 'RACE@example.com', 'Race@Example.com', 'race@EXAMPLE.com', 'rAce@example.com'];
    const outcomes = await Promise.allSettled(emails.map((email) => addUser(net.ctx, { email })));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConflictError);
    expect((await net.sql`select count(*)::int as n from users where lower(email) = 'race@example.com'`)[0]!.n).toBe(1);
  });
});

describe('listUsers and setUserNetworkRole', () => {
  it('lists users by email with their network role and site count, filtered by role', async () => {
    await addUser(net.ctx, { email: 'staff@example.com', networkRole: 'staff' });
    await createSite(net.ctx, { slug: 'listed' });
    await addMember(net.ctx, { site: 'listed', email: 'ana@example.com', role: 'owner' });
    const users = await listUsers(net.ctx);
    const emails = users.map((user) => user.email.toLowerCase());
    expect(emails).toEqual([...emails].sort());
    expect(users.find((user) => user.email === 'Ana@example.com')).toMatchObject({ networkRole: 'none', siteCount: 1 });
    expect((await listUsers(net.ctx, { networkRole: 'staff' })).map((user) => user.email)).toEqual(['staff@example.com']);
    await expect(listUsers(net.ctx, { networkRole: 'root' })).rejects.toThrow(ValidationError);
  });

  it('changes a network role with one audit entry (from/to); the same role again changes nothing', async () => {
    const result = await setUserNetworkRole(net.ctx, { email: 'STAFF@example.com', networkRole: 'superadmin' });
    expect(result).toMatchObject({ changed: true, previousRole: 'staff', user: { email: 'staff@example.com', networkRole: 'superadmin' } });
    const [audit] = await net.sql`select action, details from audit_log order by id desc limit 1`;
    expect({ ...audit }).toEqual({ action: 'user.role', details: { email: 'staff@example.com', from: 'staff', to: 'superadmin' } });
    const before = await catalogSnapshot(net.sql);
    expect(await setUserNetworkRole(net.ctx, { email: 'staff@example.com', networkRole: 'superadmin' })).toMatchObject({ changed: false });
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('refuses an unknown user (exit 3) and an unknown role (exit 2), changing nothing', async () => {
    const before = await catalogSnapshot(net.sql);
    await expect(setUserNetworkRole(net.ctx, { email: 'ghost@example.com', networkRole: 'staff' })).rejects.toThrow(NotFoundError);
    await expect(setUserNetworkRole(net.ctx, { email: 'ana@example.com', networkRole: 'owner' })).rejects.toThrow(ValidationError);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });
});

describe('resolveActor', () => {
  it("acts as the user with the user's current network role", async () => {
    const actor = await resolveActor(net.pool, 'staff@EXAMPLE.com');
    expect(actor).toEqual({ kind: 'user', userId: expect.any(Number), email: 'staff@example.com', networkRole: 'superadmin' });
    await setUserNetworkRole(net.ctx, { email: 'staff@example.com', networkRole: 'staff' });
    expect((await resolveActor(net.pool, 'staff@example.com')).networkRole).toBe('staff');
  });

  it('refuses an unknown email with exit 3 naming it, and a malformed one with exit 2', async () => {
    const error = await resolveActor(net.pool, 'Nobody@Example.com').catch((caught) => caught);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('no user with email Nobody@example.com to act as (INDIGO_ACTOR / --as): add the user with indigo-sites user:add');
    await expect(resolveActor(net.pool, 'nobody')).rejects.toThrow(ValidationError);
  });

  it('on a database that is not initialised says so (exit 4)', async () => {
    let empty: TestDatabase | undefined;
    try {
      empty = await createTestDatabase();
      await expect(resolveActor(empty.sql, 'ana@example.com')).rejects.toThrow(NotInitialisedError);
    } finally {
      await empty?.drop();
    }
  });
});
