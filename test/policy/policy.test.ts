import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  addUser,
  authorize,
  chooseActiveSite,
  createSite,
  ForbiddenError,
  listMembers,
  listSites,
  listUsers,
  POLICY,
  POLICY_ACTIONS,
  resolveActor,
  showSite,
  updateSite,
  type Actor,
  type IndigoContext,
  type NetworkRole,
  type PolicyAction,
} from '../../src/index.js';
import { addDomain } from '../../src/lib/domains/domains.js';
import { listAuditEntries } from '../../src/lib/lifecycle/audit.js';
import { cloneSite } from '../../src/lib/lifecycle/clone.js';
import { hardDeleteSite } from '../../src/lib/lifecycle/hard-delete.js';
import { purgeSiteCache } from '../../src/lib/lifecycle/purge-cache.js';
import { restoreSite, softDeleteSite } from '../../src/lib/lifecycle/soft-delete.js';
import { networkStats } from '../../src/lib/lifecycle/stats.js';
import { suspendSite, unsuspendSite } from '../../src/lib/lifecycle/status.js';
import { migrateSites } from '../../src/lib/migrations/runner.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';
import { catalogSnapshot } from '../support/catalog.js';

/**
 * Every cell of the policy table: each action, called through the real library function, by a
 * user of each network role and by the local operator. A refused call throws ForbiddenError (exit
 * 4) and leaves every network row and schema as it was; an allowed one succeeds.
 */

/** The rules as the issue states them, written out independently of src/lib/policy.ts. */
const STAFF_MAY: PolicyAction[] = ['site.list', 'site.stats', 'site.use'];
const expectedRoles = (action: PolicyAction): NetworkRole[] => (STAFF_MAY.includes(action) ? ['staff', 'superadmin'] : ['superadmin']);

const FIXTURE = 'fixture';

interface Cell {
  /** Run as the operator before the call, so an allowed call has something to act on. */
  prepare?: (slug: string) => Promise<unknown>;
  call: (ctx: IndigoContext, tag: string) => Promise<unknown>;
  /** An allowed call writes an audit entry with the actor's name. */
  audited?: boolean;
}

let net: TestNetwork;
const asOperator = (slug: string) => createSite(net.ctx, { slug });

const CELLS: Record<PolicyAction, Cell> = {
  'site.list': { call: (ctx) => listSites(ctx) },
  'site.stats': { call: (ctx) => networkStats(ctx) },
  'site.use': { call: (ctx) => chooseActiveSite(ctx, FIXTURE) },
  'site.show': { call: (ctx) => showSite(ctx, FIXTURE) },
  'site.create': { call: (ctx, tag) => createSite(ctx, { slug: `created-${tag}` }), audited: true },
  'site.update': { call: (ctx, tag) => updateSite(ctx, { slug: FIXTURE, name: `Renamed ${tag}` }), audited: true },
  'site.suspend': { prepare: asOperator, call: (ctx, tag) => suspendSite(ctx, { slug: tag }), audited: true },
  'site.unsuspend': {
    prepare: async (slug) => { await asOperator(slug); await suspendSite(net.ctx, { slug }); },
    call: (ctx, tag) => unsuspendSite(ctx, { slug: tag }),
    audited: true,
  },
  'site.delete': { prepare: asOperator, call: (ctx, tag) => softDeleteSite(ctx, { slug: tag }), audited: true },
  'site.restore': {
    prepare: async (slug) => { await asOperator(slug); await softDeleteSite(net.ctx, { slug }); },
    call: (ctx, tag) => restoreSite(ctx, { slug: tag }),
    audited: true,
  },
  'site.hardDelete': { prepare: asOperator, call: (ctx, tag) => hardDeleteSite(ctx, { slug: tag, confirm: tag, force: true }), audited: true },
  'site.purgeCache': { call: (ctx) => purgeSiteCache(ctx, { slug: FIXTURE, redis: { redisUrl: '' } }) },
  'site.clone': { call: (ctx, tag) => cloneSite(ctx, { source: FIXTURE, target: `clone-${tag}` }), audited: true },
  'site.migrate': { call: (ctx) => migrateSites(ctx, { sites: [FIXTURE], wait: true }) },
  'domain.manage': { call: (ctx, tag) => addDomain(ctx, { site: FIXTURE, domain: `${tag}.example.com`, baseDomain: null }), audited: true },
  'member.list': { call: (ctx) => listMembers(ctx, { site: FIXTURE }) },
  'member.manage': { call: (ctx, tag) => addMember(ctx, { site: FIXTURE, email: `${tag}@members.example.com`, role: 'viewer', createUser: true }), audited: true },
  'user.list': { call: (ctx) => listUsers(ctx) },
  'user.manage': { call: (ctx, tag) => addUser(ctx, { email: `${tag}@users.example.com` }), audited: true },
  'audit.list': { call: (ctx) => listAuditEntries(ctx) },
};

const ROLES: NetworkRole[] = ['none', 'staff', 'superadmin'];
const actors = new Map<string, Actor>();

beforeAll(async () => {
  net = await createTestNetwork();
  await createSite(net.ctx, { slug: FIXTURE });
  await addMember(net.ctx, { site: FIXTURE, email: 'owner@example.com', role: 'owner', createUser: true });
  actors.set('operator', net.ctx.actor);
  for (const role of ROLES) {
    await addUser(net.ctx, { email: `${role}@policy.example.com`, networkRole: role });
    actors.set(role, await resolveActor(net.pool, `${role}@policy.example.com`));
  }
});
afterAll(async () => {
  await net?.drop();
});

describe('the policy table', () => {
  it('is the one the issue states: staff may list sites, show stats and choose the active site; superadmin everything; none nothing', () => {
    for (const action of POLICY_ACTIONS) expect([...POLICY[action]].sort(), action).toEqual(expectedRoles(action).sort());
  });

  it('has a real library call for every action', () => {
    expect(Object.keys(CELLS).sort()).toEqual([...POLICY_ACTIONS].sort());
  });

  it('names the actor, the action and the roles that may do it when it refuses', () => {
    expect(() => authorize(actors.get('staff')!, 'site.clone')).toThrow(ForbiddenError);
    expect(() => authorize(actors.get('staff')!, 'site.clone')).toThrow('staff@policy.example.com (network role staff) may not site.clone: it needs network role superadmin');
    expect(() => authorize(actors.get('none')!, 'site.list')).toThrow('none@policy.example.com (network role none) may not site.list: it needs network role staff or superadmin');
  });
});

const who = ['operator', ...ROLES];
describe.each(who)('as %s', (name) => {
  it.each(POLICY_ACTIONS)('%s', async (action) => {
    const actor = actors.get(name)!;
    const allowed = actor.kind === 'operator' || expectedRoles(action).includes(actor.networkRole);
    const cell = CELLS[action];
    const tag = `p${POLICY_ACTIONS.indexOf(action)}-${name}`;
    await cell.prepare?.(tag);
    const before = await catalogSnapshot(net.sql);
    const outcome = cell.call({ ...net.ctx, actor }, tag);
    if (allowed) {
      await expect(outcome).resolves.toBeDefined();
      if (cell.audited) {
        const [entry] = await net.sql`select actor from audit_log order by id desc limit 1`;
        expect(entry!.actor).toBe(actor.kind === 'operator' ? actor.name : actor.email);
      }
    } else {
      const error = await outcome.then(() => null, (caught) => caught);
      expect(error).toBeInstanceOf(ForbiddenError);
      expect(error.exitCode).toBe(4);
      expect(error.details).toMatchObject({ action });
      expect(await catalogSnapshot(net.sql)).toEqual(before);
    }
  });
});
