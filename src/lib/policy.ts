import type { Actor, NetworkRole } from './context.js';
import { ForbiddenError } from './errors.js';

/**
 * Who may do what, at a glance. The CLI's local operator (no INDIGO_ACTOR) holds the database
 * credentials and may do everything; users act with their network role, and a role that is not
 * listed for an action (always `none`) may not do it.
 */
export const POLICY = {
  'site.list': ['staff', 'superadmin'],
  'site.stats': ['staff', 'superadmin'],
  'site.use': ['staff', 'superadmin'],
  'site.show': ['superadmin'],
  'site.create': ['superadmin'],
  'site.update': ['superadmin'],
  'site.suspend': ['superadmin'],
  'site.unsuspend': ['superadmin'],
  'site.delete': ['superadmin'],
  'site.restore': ['superadmin'],
  'site.hardDelete': ['superadmin'],
  'site.purgeCache': ['superadmin'],
  'site.clone': ['superadmin'],
  'site.migrate': ['superadmin'],
  'domain.manage': ['superadmin'],
  'member.list': ['superadmin'],
  'member.manage': ['superadmin'],
  'user.list': ['superadmin'],
  'user.manage': ['superadmin'],
  'audit.list': ['superadmin'],
} as const satisfies Record<string, readonly NetworkRole[]>;

export type PolicyAction = keyof typeof POLICY;

export const POLICY_ACTIONS = Object.keys(POLICY) as PolicyAction[];

export function isAllowed(actor: Actor, action: PolicyAction): boolean {
  if (actor.kind === 'operator') return true;
  return (POLICY[action] as readonly NetworkRole[]).includes(actor.networkRole);
}

/** Throws ForbiddenError (exit 4) before anything is read or changed. */
export function authorize(actor: Actor, action: PolicyAction): void {
  if (!isAllowed(actor, action)) {
    const who = actor.kind === 'user' ? `${actor.email} (network role ${actor.networkRole})` : actor.name;
    const allowed = POLICY[action] as readonly NetworkRole[];
    throw new ForbiddenError(`${who} may not ${action}: it needs network role ${allowed.join(' or ')}`, { action, actor: who, allowedRoles: allowed });
  }
}
