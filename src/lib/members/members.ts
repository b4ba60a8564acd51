import { recordAudit } from '../audit.js';
import type { Queryable, Tx } from '../db/connect.js';
import type { Actor, IndigoContext, NetworkRole } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { getSiteBySlug, lockSiteBySlug } from '../sites/queries.js';
import type { Site } from '../sites/types.js';
import { normalizeEmail } from '../users/email.js';
import { findUserByEmail, getUserByEmail, insertUser, validateUserName, type User } from '../users/users.js';

/** In decreasing order of rights; the order of the `indigo_member_role` enum. */
export const MEMBER_ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export interface Member {
  userId: number;
  email: string;
  name: string | null;
  role: MemberRole;
  networkRole: NetworkRole;
  /** When the user became a member. */
  createdAt: Date;
}

export function validateMemberRole(input: string): MemberRole {
  if (!(MEMBER_ROLES as readonly string[]).includes(input)) {
    throw new ValidationError(`invalid member role ${JSON.stringify(input)}: expected one of ${MEMBER_ROLES.join(', ')}`, { role: input });
  }
  return input as MemberRole;
}

function memberColumns(sql: Queryable) {
  return sql`u.id as "userId", u.email, u.name, m.role, u.network_role as "networkRole", m.created_at as "createdAt"`;
}

async function findMember(sql: Queryable, siteId: number, userId: number): Promise<Member | null> {
  const [member] = await sql<Member[]>`
    select ${memberColumns(sql)} from public.site_members m join public.users u on u.id = m.user_id
    where m.site_id = ${siteId} and m.user_id = ${userId}`;
  return member ?? null;
}

async function getMember(sql: Queryable, site: Site, user: User): Promise<Member> {
  const member = await findMember(sql, site.id, user.id);
  if (!member) throw new NotFoundError(`${user.email} is not a member of site "${site.slug}"`, { site: site.slug, email: user.email });
  return member;
}

/**
 * The site whose members the rest of the transaction changes. The per-site lock serialises
 * membership changes with each other (two removals of the last two owners cannot both see a
 * second owner) and with lifecycle operations (a hard delete or a clone of the site), and the
 * site is read again (by id: its slug may be taken by a new site meanwhile) once the lock is held
 * because it may have been deleted while we waited.
 */
async function lockSiteMembership(tx: Tx, slug: string): Promise<Site> {
  const site = await lockSiteBySlug(tx, slug);
  if (site.deletedAt) {
    // A soft-deleted site keeps its members exactly as they were, so that a restore brings it back unchanged.
    throw new ConflictError(`site "${slug}" is deleted: restore it before changing its members`, { site: slug, deletedAt: site.deletedAt });
  }
  return site;
}

async function ownerCount(tx: Tx, siteId: number): Promise<number> {
  const [row] = await tx<{ count: number }[]>`select count(*)::int as count from public.site_members where site_id = ${siteId} and role = 'owner'`;
  return row!.count;
}

async function refuseLosingLastOwner(tx: Tx, site: Site, member: Member): Promise<void> {
  if (member.role === 'owner' && (await ownerCount(tx, site.id)) <= 1) {
    throw new ConflictError(
      `${member.email} is the last owner of site "${site.slug}": a site keeps at least one owner, so make another member owner first`,
      { site: site.slug, email: member.email },
    );
  }
}

export interface AddMemberInput {
  site: string;
  email: string;
  role: string;
  /** Create the user (network role none) when no user has the email; otherwise that is "not found". */
  createUser?: boolean;
  /** Name of a user created by createUser. */
  name?: string;
}

export interface AddMemberResult {
  member: Member;
  /** False when the user already was a member with that role. */
  changed: boolean;
  userCreated: boolean;
}

export async function addMember(ctx: IndigoContext, input: AddMemberInput): Promise<AddMemberResult> {
  authorize(ctx.actor, 'member.manage');
  const email = normalizeEmail(input.email);
  const role = validateMemberRole(input.role);
  const name = input.name === undefined ? null : validateUserName(input.name);
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteMembership(tx, input.site);
    let user = await findUserByEmail(tx, email);
    let userCreated = false;
    if (!user) {
      if (!input.createUser) {
        throw new NotFoundError(`no user with email ${email}: add the user first (user:add), or create it here with --create-user`, { email });
      }
      const inserted = await insertUser(tx, { email, name, networkRole: 'none' });
      userCreated = inserted !== null;
      // Null when another process created the same user a moment ago: then use theirs.
      user = inserted ?? (await getUserByEmail(tx, email));
    }
    const existing = await findMember(tx, site.id, user.id);
    if (existing) {
      if (existing.role === role) return { member: existing, changed: false, userCreated: false };
      throw new ConflictError(`${user.email} is already a member of site "${site.slug}" as ${existing.role}: change the role with member:role`, {
        site: site.slug,
        email: user.email,
        role: existing.role,
      });
    }
    await tx`insert into public.site_members (site_id, user_id, role) values (${site.id}, ${user.id}, ${role})`;
    await recordAudit(tx, ctx.actor, { action: 'member.add', site, details: { email: user.email, role, userCreated } });
    return { member: (await findMember(tx, site.id, user.id))!, changed: true, userCreated };
  });
}

export async function removeMember(ctx: IndigoContext, input: { site: string; email: string }): Promise<{ removed: Member }> {
  authorize(ctx.actor, 'member.manage');
  const email = normalizeEmail(input.email);
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteMembership(tx, input.site);
    const member = await getMember(tx, site, await getUserByEmail(tx, email));
    await refuseLosingLastOwner(tx, site, member);
    await tx`delete from public.site_members where site_id = ${site.id} and user_id = ${member.userId}`;
    await recordAudit(tx, ctx.actor, { action: 'member.remove', site, details: { email: member.email, role: member.role } });
    return { removed: member };
  });
}

export interface SetMemberRoleResult {
  member: Member;
  previousRole: MemberRole;
  changed: boolean;
}

export async function setMemberRole(ctx: IndigoContext, input: { site: string; email: string; role: string }): Promise<SetMemberRoleResult> {
  authorize(ctx.actor, 'member.manage');
  const email = normalizeEmail(input.email);
  const role = validateMemberRole(input.role);
  return ctx.sql.begin(async (tx) => {
    const site = await lockSiteMembership(tx, input.site);
    const member = await getMember(tx, site, await getUserByEmail(tx, email));
    if (member.role === role) return { member, previousRole: member.role, changed: false };
    await refuseLosingLastOwner(tx, site, member);
    await tx`update public.site_members set role = ${role} where site_id = ${site.id} and user_id = ${member.userId}`;
    await recordAudit(tx, ctx.actor, { action: 'member.role', site, details: { email: member.email, from: member.role, to: role } });
    return { member: { ...member, role }, previousRole: member.role, changed: true };
  });
}

/** Owners first, then admins, editors and viewers; by email within a role. Soft-deleted sites keep and list theirs. */
export async function listMembers(ctx: { sql: Queryable; actor: Actor }, input: { site: string }): Promise<Member[]> {
  authorize(ctx.actor, 'member.list');
  const { sql } = ctx;
  const site = await getSiteBySlug(sql, input.site);
  return sql<Member[]>`
    select ${memberColumns(sql)} from public.site_members m join public.users u on u.id = m.user_id
    where m.site_id = ${site.id} order by m.role, lower(u.email)`;
}
