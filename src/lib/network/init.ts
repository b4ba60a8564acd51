import { recordAudit } from '../audit.js';
import type { Queryable } from '../db/connect.js';
import { LOCK_CLASS, LockKey } from '../db/locks.js';
import type { IndigoContext } from '../context.js';
import { NotInitialisedError } from '../errors.js';
import { applySharedMigrations, sharedMigrationStatus } from '../migrations/shared.js';
import { loadSiteMigrations } from '../migrations/site.js';
import { insertSite } from '../sites/sites.js';
import { normalizeEmail } from '../users/email.js';

/** The network admin site's slug: reserved, so no operator can create a site with it. */
export const NETWORK_ADMIN_SLUG = 'network';

export interface InitNetworkInput {
  adminEmail?: string;
}

export interface InitNetworkResult {
  sharedMigrationsApplied: string[];
  networkAdminSite: { slug: string; created: boolean };
  adminUser: { email: string; created: boolean; promoted: boolean } | null;
  changed: boolean;
}

/**
 * Applies pending network migrations, then seeds the network admin site and (with adminEmail)
 * a superadmin. Idempotent: a second run changes nothing and says so.
 */
export async function initNetwork(ctx: IndigoContext, input: InitNetworkInput = {}): Promise<InitNetworkResult> {
  const adminEmail = input.adminEmail === undefined ? undefined : normalizeEmail(input.adminEmail);
  const siteMigrations = await loadSiteMigrations(ctx.siteMigrationsDir);
  const sharedMigrationsApplied = await applySharedMigrations(ctx.sql);
  const seeded = await ctx.sql.begin(async (tx) => {
    // Seeding is serialised with the shared migrations so two inits at once seed once.
    await tx`select pg_advisory_xact_lock(${LOCK_CLASS}, ${LockKey.sharedMigrations})`;
    const [existing] = await tx`select id from public.sites where is_network_admin`;
    let siteCreated = false;
    if (!existing) {
      await insertSite(tx, ctx, { slug: NETWORK_ADMIN_SLUG, name: 'Network Admin', isNetworkAdmin: true }, siteMigrations);
      siteCreated = true;
    }
    let adminUser: InitNetworkResult['adminUser'] = null;
    if (adminEmail) {
      const [user] = await tx<{ id: number; networkRole: string }[]>`
        select id, network_role as "networkRole" from public.users where lower(email) = lower(${adminEmail})`;
      if (!user) {
        await tx`insert into public.users (email, network_role) values (${adminEmail}, 'superadmin')`;
        await recordAudit(tx, ctx.actor, { action: 'user.create', details: { email: adminEmail, networkRole: 'superadmin' } });
        adminUser = { email: adminEmail, created: true, promoted: false };
      } else if (user.networkRole !== 'superadmin') {
        await tx`update public.users set network_role = 'superadmin', updated_at = now() where id = ${user.id}`;
        await recordAudit(tx, ctx.actor, { action: 'user.role', details: { email: adminEmail, from: user.networkRole, to: 'superadmin' } });
        adminUser = { email: adminEmail, created: false, promoted: true };
      } else {
        adminUser = { email: adminEmail, created: false, promoted: false };
      }
    }
    return { siteCreated, adminUser };
  });
  return {
    sharedMigrationsApplied,
    networkAdminSite: { slug: NETWORK_ADMIN_SLUG, created: seeded.siteCreated },
    adminUser: seeded.adminUser,
    changed: sharedMigrationsApplied.length > 0 || seeded.siteCreated || Boolean(seeded.adminUser?.created || seeded.adminUser?.promoted),
  };
}

/** Refuses (exit 4) to work on a database whose network tables are missing or behind. */
export async function assertNetworkInitialised(sql: Queryable, target = 'the database'): Promise<void> {
  const status = await sharedMigrationStatus(sql);
  if (!status.initialised) {
    const why = status.applied.length === 0 ? 'is not initialised' : `has pending network migrations (${status.pending.join(', ')})`;
    throw new NotInitialisedError(`${target} ${why}: run indigo-sites init`, { pending: status.pending });
  }
}
