/**
 * Who the CLI acts as, and the site it works on by default. Without INDIGO_ACTOR the CLI is the
 * local operator (full rights: it already holds the database credentials); with it, the CLI acts
 * as that user with that user's network role. The active site itself is stored by the CLI; the
 * library checks that a chosen or stored site is still one to work on.
 */
import type { Queryable } from './db/connect.js';
import type { Actor } from './context.js';
import { ConflictError, NotFoundError, NotInitialisedError } from './errors.js';
import { authorize } from './policy.js';
import { findSiteById, getSiteBySlug } from './sites/queries.js';
import type { Site } from './sites/types.js';
import { normalizeEmail } from './users/email.js';
import { findUserByEmail } from './users/users.js';

export type UserActor = Extract<Actor, { kind: 'user' }>;

/** The user an email names, as an actor with the user's current network role. */
export async function resolveActor(sql: Queryable, email: string): Promise<UserActor> {
  const normalized = normalizeEmail(email);
  let user;
  try {
    user = await findUserByEmail(sql, normalized);
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new NotInitialisedError(`cannot act as ${normalized}: the network is not initialised (run indigo-sites init without INDIGO_ACTOR / --as)`);
    }
    throw error;
  }
  if (!user) {
    throw new NotFoundError(`no user with email ${normalized} to act as (INDIGO_ACTOR / --as): add the user with indigo-sites user:add`, { email: normalized });
  }
  return { kind: 'user', userId: user.id, email: user.email, networkRole: user.networkRole };
}

/** What the CLI stores as the active site: the id tells a site from a later one that took its slug. */
export interface ActiveSiteRef {
  slug: string;
  siteId: number;
}

/** The site `site:use SLUG` makes active: it must exist and not be soft-deleted. */
export async function chooseActiveSite(ctx: { sql: Queryable; actor: Actor }, slug: string): Promise<Site> {
  authorize(ctx.actor, 'site.use');
  const site = await getSiteBySlug(ctx.sql, slug);
  if (site.deletedAt) {
    throw new ConflictError(`site "${slug}" is deleted: restore it before making it the active site`, { site: slug, deletedAt: site.deletedAt });
  }
  return site;
}

/**
 * The stored active site, when it is still the same site and not deleted; otherwise an error
 * that says what happened to it, so a command never silently works on another or a deleted site.
 */
export async function checkActiveSite(ctx: { sql: Queryable; actor: Actor }, ref: ActiveSiteRef): Promise<Site> {
  authorize(ctx.actor, 'site.use');
  const { sql } = ctx;
  const site = await findSiteById(sql, ref.siteId);
  const hint = 'choose another with indigo-sites site:use SLUG, or pass --site';
  if (!site) {
    const [successor] = await sql<{ id: number }[]>`select id from public.sites where slug = ${ref.slug}`;
    const since = successor ? `; a newer site now has the slug "${ref.slug}"` : '';
    throw new NotFoundError(`the active site "${ref.slug}" no longer exists (it was deleted for good${since}): ${hint}`, { site: ref.slug, siteId: ref.siteId });
  }
  if (site.deletedAt) {
    throw new ConflictError(`the active site "${site.slug}" was deleted on ${site.deletedAt.toISOString()}: restore it, or ${hint}`, { site: site.slug, deletedAt: site.deletedAt });
  }
  return site;
}
