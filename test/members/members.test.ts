import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  addUser,
  ConflictError,
  createSite,
  listMembers,
  NotFoundError,
  removeMember,
  setMemberRole,
  ValidationError,
  type IndigoContext,
} from '../../src/index.js';
import { LOCK_CLASS_SITE } from '../../src/lib/db/locks.js';
import { hardDeleteSite } from '../../src/lib/lifecycle/hard-delete.js';
import { restoreSite, softDeleteSite } from '../../src/lib/lifecycle/soft-delete.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { catalogSnapshot } from '../support/catalog.js';

let net: TestNetwork;
let ctx: IndigoContext;

beforeAll(async () => {
  net = await createTestNetwork();
  ctx = net.ctx;
  for (const email of ['ana@example.com', 'ben@example.com', 'cy@example.com', 'dee@example.com']) await addUser(ctx, { email });
});
afterAll(async () => {
  await net?.drop();
});

let sites = 0;
/** A fresh site with the given members, added in order (put an owner first). */
async function siteWith(members: [email: string, role: string][]): Promise<string> {
  const slug = `members-${++sites}`;
  await createSite(ctx, { slug });
  for (const [email, role] of members) await addMember(ctx, { site: slug, email, role });
  return slug;
}

async function roles(site: string): Promise<Record<string, string>> {
  return Object.fromEntries((await listMembers(ctx, { site })).map((member) => [member.email, member.role]));
}

async function siteId(slug: string): Promise<number> {
  return (await net.sql`select id from sites where slug = ${slug}`)[0]!.id;
}

describe('addMember', () => {
  it('adds a user with a role and writes one audit entry in the same transaction', async () => {
    const site = await siteWith([]);
    const auditBefore = (await net.sql`select count(*)::int as n from audit_log`)[0]!.n;
    const result = await addMember(ctx, { site, email: 'ANA@Example.com', role: 'owner' });
    expect(result).toMatchObject({ changed: true, userCreated: false, member: { email: 'ana@example.com', role: 'owner', networkRole: 'none' } });
    expect(await roles(site)).toEqual({ 'ana@example.com': 'owner' });
    const audit = await net.sql`select actor, action, site_slug, details from audit_log order by id desc limit 2`;
    expect(audit.count).toBe(2);
    expect((await net.sql`select count(*)::int as n from audit_log`)[0]!.n).toBe(auditBefore + 1);
    expect({ ...audit[0] }).toEqual({ actor: 'test-operator', action: 'member.add', site_slug: site, details: { email: 'ana@example.com', role: 'owner', userCreated: false } });
  });

  it('adding the same member with the same role again changes nothing', async () => {
    const site = await siteWith([['ana@example.com', 'owner']]);
    const before = await catalogSnapshot(net.sql);
    const again = await addMember(ctx, { site, email: 'ana@example.com', role: 'owner' });
    expect(again).toMatchObject({ changed: false, member: { role: 'owner' } });
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('refuses a member that already has another role (exit 4) and points at member:role', async () => {
    const site = await siteWith([['ana@example.com', 'owner']]);
    const before = await catalogSnapshot(net.sql);
    const refusal = addMember(ctx, { site, email: 'ana@example.com', role: 'viewer' });
    await expect(refusal).rejects.toThrow(ConflictError);
    await expect(refusal).rejects.toThrow(/already a member .* as owner: change the role with member:role/);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('refuses an unknown email with exit 3 unless createUser, and changes nothing', async () => {
    const site = await siteWith([['ana@example.com', 'owner']]);
    const before = await catalogSnapshot(net.sql);
    const refusal = addMember(ctx, { site, email: 'new@example.com', role: 'editor' });
    await expect(refusal).rejects.toThrow(NotFoundError);
    await expect(refusal).rejects.toThrow(/no user with email new@example.com: .*--create-user/);
    expect((await refusal.catch((error) => error)).exitCode).toBe(3);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('with createUser creates the user (network role none) and the membership in one transaction', async () => {
    const site = await siteWith([['ana@example.com', 'owner']]);
    const result = await addMember(ctx, { site, email: 'New.Person@Example.com', role: 'editor', createUser: true, name: 'New Person' });
    expect(result).toMatchObject({ changed: true, userCreated: true, member: { email: 'New.Person@example.com', name: 'New Person', role: 'editor', networkRole: 'none' } });
    const [user] = await net.sql`select email, name, network_role from users where lower(email) = 'new.person@example.com'`;
    expect({ ...user }).toEqual({ email: 'New.Person@example.com', name: 'New Person', network_role: 'none' });
    const [audit] = await net.sql`select action, details from audit_log order by id desc limit 1`;
    expect({ ...audit }).toEqual({ action: 'member.add', details: { email: 'New.Person@example.com', role: 'editor', userCreated: true } });
  });

  it.each([
    [{ email: 'ana@example.com', role: 'god' }, ValidationError, /invalid member role "god": expected one of owner, admin, editor, viewer/],
    [{ email: 'ana@example.com', role: 'Owner' }, ValidationError, /invalid member role/],
    [{ email: 'not an email', role: 'owner' }, ValidationError, /invalid email/],
    [{ email: 'x@example.com', role: 'owner', createUser: true, name: '  ' }, ValidationError, /the user name is empty/],
  ])('refuses %j before touching anything', async (input, type, message) => {
    const site = await siteWith([['ben@example.com', 'owner']]);
    const before = await catalogSnapshot(net.sql);
    await expect(addMember(ctx, { site, ...input })).rejects.toThrow(type);
    await expect(addMember(ctx, { site, ...input })).rejects.toThrow(message);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('refuses an unknown site with exit 3', async () => {
    const before = await catalogSnapshot(net.sql);
    await expect(addMember(ctx, { site: 'no-such-site', email: 'ana@example.com', role: 'owner', createUser: true })).rejects.toThrow(NotFoundError);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('two concurrent createUser adds of one new email create one user and two memberships', async () => {
    const first = await siteWith([['ana@example.com', 'owner']]);
    const second = await siteWith([['ana@example.com', 'owner']]);
    const results = await Promise.all([
      addMember(ctx, { site: first, email: 'twin@example.com', role: 'viewer', createUser: true }),
      addMember(ctx, { site: second, email: 'TWIN@example.com', role: 'viewer', createUser: true }),
    ]);
    expect(results.filter((result) => result.userCreated)).toHaveLength(1);
    expect((await net.sql`select count(*)::int as n from users where lower(email) = 'twin@example.com'`)[0]!.n).toBe(1);
    expect(await roles(first)).toMatchObject({ 'twin@example.com': 'viewer' });
    expect(await roles(second)).toMatchObject({ 'twin@example.com': 'viewer' });
  });
});

describe('listMembers', () => {
  it('lists owners first, then admins, editors and viewers, by email within a role', async () => {
    const site = await siteWith([['dee@example.com', 'owner'], ['cy@example.com', 'viewer'], ['ana@example.com', 'editor'], ['ben@example.com', 'owner']]);
    const members = await listMembers(ctx, { site });
    expect(members.map((member) => [member.email, member.role])).toEqual([
      ['ben@example.com', 'owner'],
      ['dee@example.com', 'owner'],
      ['ana@example.com', 'editor'],
      ['cy@example.com', 'viewer'],
    ]);
    expect(members[0]).toMatchObject({ userId: expect.any(Number), name: null, networkRole: 'none', createdAt: expect.any(Date) });
  });

  it('refuses an unknown site with exit 3', async () => {
    await expect(listMembers(ctx, { site: 'no-such-site' })).rejects.toThrow(NotFoundError);
  });
});

describe('setMemberRole and removeMember', () => {
  it('changes a role and records from/to; the same role again changes nothing', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'editor']]);
    const result = await setMemberRole(ctx, { site, email: 'ben@example.com', role: 'admin' });
    expect(result).toMatchObject({ changed: true, previousRole: 'editor', member: { role: 'admin' } });
    const [audit] = await net.sql`select action, site_slug, details from audit_log order by id desc limit 1`;
    expect({ ...audit }).toEqual({ action: 'member.role', site_slug: site, details: { email: 'ben@example.com', from: 'editor', to: 'admin' } });
    const before = await catalogSnapshot(net.sql);
    expect(await setMemberRole(ctx, { site, email: 'ben@example.com', role: 'admin' })).toMatchObject({ changed: false });
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('removes a member and records the role it had', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'viewer']]);
    expect(await removeMember(ctx, { site, email: 'BEN@example.com' })).toMatchObject({ removed: { email: 'ben@example.com', role: 'viewer' } });
    expect(await roles(site)).toEqual({ 'ana@example.com': 'owner' });
    const [audit] = await net.sql`select action, details from audit_log order by id desc limit 1`;
    expect({ ...audit }).toEqual({ action: 'member.remove', details: { email: 'ben@example.com', role: 'viewer' } });
  });

  it('refuses to remove or demote the last owner (exit 4) and changes nothing', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'admin']]);
    const before = await catalogSnapshot(net.sql);
    // One at a time: both started at once would leave the second's rejection unhandled meanwhile.
    for (const attempt of [() => removeMember(ctx, { site, email: 'ana@example.com' }), () => setMemberRole(ctx, { site, email: 'ana@example.com', role: 'admin' })]) {
      const error = await attempt().catch((caught) => caught);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error.exitCode).toBe(4);
      expect(error.message).toBe(`ana@example.com is the last owner of site "${site}": a site keeps at least one owner, so make another member owner first`);
    }
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });

  it('lets an owner go once another member is owner', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'admin']]);
    await setMemberRole(ctx, { site, email: 'ben@example.com', role: 'owner' });
    await setMemberRole(ctx, { site, email: 'ana@example.com', role: 'viewer' });
    await removeMember(ctx, { site, email: 'ana@example.com' });
    expect(await roles(site)).toEqual({ 'ben@example.com': 'owner' });
  });

  it('refuses a non-member, an unknown user and an unknown site with exit 3', async () => {
    const site = await siteWith([['ana@example.com', 'owner']]);
    const before = await catalogSnapshot(net.sql);
    await expect(removeMember(ctx, { site, email: 'ben@example.com' })).rejects.toThrow(`ben@example.com is not a member of site "${site}"`);
    await expect(setMemberRole(ctx, { site, email: 'ben@example.com', role: 'viewer' })).rejects.toThrow(NotFoundError);
    await expect(removeMember(ctx, { site, email: 'nobody@example.com' })).rejects.toThrow('no user with email nobody@example.com');
    await expect(removeMember(ctx, { site: 'no-such-site', email: 'ana@example.com' })).rejects.toThrow(NotFoundError);
    expect(await catalogSnapshot(net.sql)).toEqual(before);
  });
});

describe('the last-owner rule under concurrent changes', () => {
  /**
   * Runs the changes while another transaction holds the site's lock, and lets them go only once
   * every one of them is waiting for it: they all start from the same state, so without the lock
   * each would see two owners and remove its own. (A change that does not take the lock never
   * waits, and the test fails saying so.)
   */
  async function raceOnSite<T>(site: string, changes: (() => Promise<T>)[]): Promise<PromiseSettledResult<T>[]> {
    const id = await siteId(site);
    let settled!: Promise<PromiseSettledResult<T>[]>;
    await net.sql.begin(async (holder) => {
      await holder`select pg_advisory_xact_lock(${LOCK_CLASS_SITE}, ${id})`;
      settled = Promise.allSettled(changes.map((change) => change()));
      for (let polls = 0; ; polls++) {
        const [{ waiting }] = await net.sql`
          select count(*)::int as waiting from pg_locks
          where locktype = 'advisory' and not granted and classid = ${LOCK_CLASS_SITE} and objid = ${id}`;
        if (waiting === changes.length) break;
        if (polls > 500) throw new Error(`only ${waiting} of ${changes.length} changes wait for the site lock`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    return settled;
  }

  it('of two removals of the last two owners, exactly one succeeds and the other exits 4', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'owner'], ['cy@example.com', 'editor']]);
    const outcomes = await raceOnSite(site, [
      () => removeMember(ctx, { site, email: 'ana@example.com' }),
      () => removeMember(ctx, { site, email: 'ben@example.com' }),
    ]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const [refused] = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(refused!.reason).toBeInstanceOf(ConflictError);
    expect(refused!.reason.message).toMatch(/is the last owner/);
    const remaining = await roles(site);
    expect(Object.values(remaining).filter((role) => role === 'owner')).toHaveLength(1);
    expect(remaining['cy@example.com']).toBe('editor');
  });

  it('a removal and a demotion of the last two owners leave one owner', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'owner']]);
    const outcomes = await raceOnSite<unknown>(site, [
      () => setMemberRole(ctx, { site, email: 'ana@example.com', role: 'viewer' }),
      () => removeMember(ctx, { site, email: 'ben@example.com' }),
    ]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(Object.values(await roles(site)).filter((role) => role === 'owner')).toHaveLength(1);
  });

  it('unhindered parallel removals of two owners, several times over, always leave one owner', async () => {
    for (let round = 0; round < 5; round++) {
      const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'owner']]);
      const outcomes = await Promise.allSettled([
        removeMember(ctx, { site, email: 'ana@example.com' }),
        removeMember(ctx, { site, email: 'ben@example.com' }),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      expect(Object.values(await roles(site))).toEqual(['owner']);
    }
  });
});

describe('members and the site lifecycle', () => {
  it('a soft-deleted site keeps its members, lists them, refuses changes (exit 4), and a restore brings them back as they were', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'editor']]);
    const members = await roles(site);
    await softDeleteSite(ctx, { slug: site });
    expect(await roles(site)).toEqual(members);
    const before = await catalogSnapshot(net.sql);
    for (const attempt of [
      () => addMember(ctx, { site, email: 'cy@example.com', role: 'viewer' }),
      () => removeMember(ctx, { site, email: 'ben@example.com' }),
      () => setMemberRole(ctx, { site, email: 'ben@example.com', role: 'admin' }),
    ]) {
      await expect(attempt()).rejects.toThrow(`site "${site}" is deleted: restore it before changing its members`);
    }
    expect(await catalogSnapshot(net.sql)).toEqual(before);
    await restoreSite(ctx, { slug: site });
    expect(await roles(site)).toEqual(members);
  });

  it('a hard delete removes the members (the users stay)', async () => {
    const site = await siteWith([['ana@example.com', 'owner'], ['ben@example.com', 'editor']]);
    const id = await siteId(site);
    await hardDeleteSite(ctx, { slug: site, confirm: site, force: true });
    expect((await net.sql`select count(*)::int as n from site_members where site_id = ${id}`)[0]!.n).toBe(0);
    expect((await net.sql`select count(*)::int as n from users where email in ('ana@example.com', 'ben@example.com')`)[0]!.n).toBe(2);
    await expect(listMembers(ctx, { site })).rejects.toThrow(NotFoundError);
  });
});
