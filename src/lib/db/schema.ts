/**
 * The network (shared) tables in `public`. drizzle-kit generates migrations/shared from this
 * file (`npm run db:generate`); keep it free of imports other than drizzle-orm so drizzle-kit's
 * loader can read it.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const siteStatus = pgEnum('indigo_site_status', ['active', 'suspended']);
export const domainVerificationState = pgEnum('indigo_domain_state', ['pending', 'verified', 'failed']);
export const networkRole = pgEnum('indigo_network_role', ['none', 'staff', 'superadmin']);
export const memberRole = pgEnum('indigo_member_role', ['owner', 'admin', 'editor', 'viewer']);

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const sites = pgTable(
  'sites',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    schemaName: text('schema_name').notNull(),
    status: siteStatus('status').notNull().default('active'),
    statusReason: text('status_reason'),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    deletedBy: text('deleted_by'),
    purgeAfter: timestamp('purge_after', { withTimezone: true }),
    isNetworkAdmin: boolean('is_network_admin').notNull().default(false),
    settings: jsonb('settings').notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('sites_slug_key').on(t.slug),
    uniqueIndex('sites_schema_name_key').on(t.schemaName),
    // At most one network admin site.
    uniqueIndex('sites_network_admin_key').on(t.isNetworkAdmin).where(sql`${t.isNetworkAdmin}`),
    index('sites_purge_after_idx').on(t.purgeAfter).where(sql`${t.deletedAt} is not null`),
  ],
);

export const siteDomains = pgTable(
  'site_domains',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    siteId: bigint('site_id', { mode: 'number' }).notNull().references(() => sites.id, { onDelete: 'cascade' }),
    domain: text('domain').notNull(),
    isPrimary: boolean('is_primary').notNull().default(false),
    verificationState: domainVerificationState('verification_state').notNull().default('pending'),
    token: text('token').notNull(),
    tokenExpiresAt: timestamp('token_expires_at', { withTimezone: true }),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
    lastError: text('last_error'),
    firstFailedAt: timestamp('first_failed_at', { withTimezone: true }),
    // A DNS check in progress: which verification run holds the domain and until when. The lease
    // keeps two workers from checking one domain at once and lapses if its holder dies.
    checkClaim: text('check_claim'),
    checkClaimedUntil: timestamp('check_claimed_until', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('site_domains_domain_key').on(t.domain),
    index('site_domains_site_id_idx').on(t.siteId),
    uniqueIndex('site_domains_one_primary_key').on(t.siteId).where(sql`${t.isPrimary}`),
  ],
);

export const users = pgTable(
  'users',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    email: text('email').notNull(),
    name: text('name'),
    networkRole: networkRole('network_role').notNull().default('none'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`)],
);

export const siteMembers = pgTable(
  'site_members',
  {
    siteId: bigint('site_id', { mode: 'number' }).notNull().references(() => sites.id, { onDelete: 'cascade' }),
    userId: bigint('user_id', { mode: 'number' }).notNull().references(() => users.id, { onDelete: 'cascade' }),
    role: memberRole('role').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.userId] }), index('site_members_user_id_idx').on(t.userId)],
);

/** Kept without a foreign key to sites: entries outlive a hard-deleted site. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    siteId: bigint('site_id', { mode: 'number' }),
    siteSlug: text('site_slug'),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [index('audit_log_site_id_at_idx').on(t.siteId, t.at), index('audit_log_at_idx').on(t.at)],
);
