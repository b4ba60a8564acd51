import { recordAudit } from '../audit.js';
import type { Queryable } from '../db/connect.js';
import type { Actor, IndigoContext, NetworkRole } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { authorize } from '../policy.js';
import { normalizeEmail } from './email.js';
import { validateLabel } from '../labels.js';

/** In increasing order of rights; the order of the `indigo_network_role` enum. */
export const NETWORK_ROLES = ['none', 'staff', 'superadmin'] as const satisfies readonly NetworkRole[];

export const MAX_USER_NAME_LENGTH = 200;

export interface User {
  id: number;
  email: string;
  name: string | null;
  networkRole: NetworkRole;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserListItem extends User {
  /** Sites the user is a member of, soft-deleted ones included. */
  siteCount: number;
}

export function validateNetworkRole(input: string): NetworkRole {
  if (!(NETWORK_ROLES as readonly string[]).includes(input)) {
    throw new ValidationError(`invalid network role ${JSON.stringify(input)}: expected one of ${NETWORK_ROLES.join(', ')}`, { role: input });
  }
  return input as NetworkRole;
}

export function validateUserName(name: string): string {
  return validateLabel(name, 'the user name', MAX_USER_NAME_LENGTH);
}

function userColumns(sql: Queryable) {
  return sql`u.id, u.email, u.name, u.network_role as "networkRole", u.created_at as "createdAt", u.updated_at as "updatedAt"`;
}

/** Case-insensitive, like the unique index on lower(email). */
export async function findUserByEmail(sql: Queryable, email: string, options: { forUpdate?: boolean } = {}): Promise<User | null> {
  const [user] = await sql<User[]>`
    select ${userColumns(sql)} from public.users u where lower(u.email) = lower(${email})
    ${options.forUpdate ? sql`for update` : sql``}`;
  return user ?? null;
}

export async function getUserByEmail(sql: Queryable, email: string, options: { forUpdate?: boolean } = {}): Promise<User> {
  const user = await findUserByEmail(sql, email, options);
  if (!user) throw new NotFoundError(`no user with email ${email}`, { email });
  return user;
}

export interface NewUser {
  email: string;
  name: string | null;
  networkRole: NetworkRole;
}

/**
 * Inserts an already validated user and writes nothing else: null when the email is taken. ON
 * CONFLICT waits for a concurrent insert of the same email to finish, so of N simultaneous
 * inserts exactly one returns the user.
 */
export async function insertUser(sql: Queryable, user: NewUser): Promise<User | null> {
  const [inserted] = await sql<User[]>`
    insert into public.users as u (email, name, network_role)
    values (${user.email}, ${user.name}, ${user.networkRole})
    on conflict do nothing
    returning ${userColumns(sql)}`;
  return inserted ?? null;
}

export interface AddUserInput {
  email: string;
  name?: string;
  /** Default `none`: a user who may only be a site member. */
  networkRole?: string;
}

export async function addUser(ctx: IndigoContext, input: AddUserInput): Promise<User> {
  authorize(ctx.actor, 'user.manage');
  const email = normalizeEmail(input.email);
  const name = input.name === undefined ? null : validateUserName(input.name);
  const networkRole = validateNetworkRole(input.networkRole ?? 'none');
  return ctx.sql.begin(async (tx) => {
    const user = await insertUser(tx, { email, name, networkRole });
    if (!user) {
      const existing = await getUserByEmail(tx, email);
      throw new ConflictError(`user ${existing.email} already exists (network role ${existing.networkRole})`, { email: existing.email });
    }
    await recordAudit(tx, ctx.actor, { action: 'user.create', details: { email, name, networkRole } });
    return user;
  });
}

export async function listUsers(ctx: { sql: Queryable; actor: Actor }, options: { networkRole?: string } = {}): Promise<UserListItem[]> {
  authorize(ctx.actor, 'user.list');
  const role = options.networkRole === undefined ? undefined : validateNetworkRole(options.networkRole);
  const { sql } = ctx;
  return sql<UserListItem[]>`
    select ${userColumns(sql)}, (select count(*) from public.site_members m where m.user_id = u.id)::int as "siteCount"
    from public.users u
    where ${role === undefined ? sql`true` : sql`u.network_role = ${role}`}
    order by lower(u.email)`;
}

export interface SetNetworkRoleResult {
  user: User;
  previousRole: NetworkRole;
  changed: boolean;
}

export async function setUserNetworkRole(ctx: IndigoContext, input: { email: string; networkRole: string }): Promise<SetNetworkRoleResult> {
  authorize(ctx.actor, 'user.manage');
  const email = normalizeEmail(input.email);
  const networkRole = validateNetworkRole(input.networkRole);
  return ctx.sql.begin(async (tx) => {
    const user = await getUserByEmail(tx, email, { forUpdate: true });
    if (user.networkRole === networkRole) return { user, previousRole: user.networkRole, changed: false };
    const [updated] = await tx<User[]>`
      update public.users as u set network_role = ${networkRole}, updated_at = now()
      where u.id = ${user.id} returning ${userColumns(tx)}`;
    await recordAudit(tx, ctx.actor, { action: 'user.role', details: { email: user.email, from: user.networkRole, to: networkRole } });
    return { user: updated!, previousRole: user.networkRole, changed: true };
  });
}
