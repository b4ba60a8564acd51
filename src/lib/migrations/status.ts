import type { Actor } from '../context.js';
import type { Queryable } from '../db/connect.js';
import { authorize } from '../policy.js';
import { listSiteTargets, parseSiteList, planSites, readSiteHistories, type SiteSelection } from './history.js';
import { loadSiteMigrations, type AppliedMigration } from './site.js';

export interface SiteMigrationStatusOptions {
  sites?: string[];
  status?: SiteSelection;
  /** Only sites that are behind (or whose history disagrees with the files). */
  pendingOnly?: boolean;
  migrationsDir?: string;
}

export interface SiteMigrationState {
  id: number;
  slug: string;
  schemaName: string;
  /** `invalid`: the history disagrees with the files (edited, missing or misordered migration) or the schema is missing. */
  state: 'up-to-date' | 'behind' | 'invalid';
  applied: AppliedMigration[];
  pending: string[];
  problem?: string;
}

export interface MigrationStatusReport {
  migrationsDir: string;
  migrations: string[];
  summary: { sites: number; upToDate: number; behind: number; invalid: number };
  sites: SiteMigrationState[];
}

/** Per site: the migrations applied and pending, read in a few queries whatever the number of sites. */
export async function siteMigrationStatus(
  ctx: { sql: Queryable; actor: Actor; siteMigrationsDir?: string },
  options: SiteMigrationStatusOptions = {},
): Promise<MigrationStatusReport> {
  authorize(ctx.actor, 'site.list');
  const slugs = options.sites === undefined ? undefined : parseSiteList(options.sites);
  const set = await loadSiteMigrations(options.migrationsDir ?? ctx.siteMigrationsDir);
  const targets = await listSiteTargets(ctx.sql, { slugs, status: options.status });
  const plans = planSites(set, targets, await readSiteHistories(ctx.sql, targets));
  const all = plans.map(({ site, history, pending, problem }): SiteMigrationState => ({
    id: site.id,
    slug: site.slug,
    schemaName: site.schemaName,
    state: problem ? 'invalid' : pending.length > 0 ? 'behind' : 'up-to-date',
    applied: history ?? [],
    pending: (pending ?? []).map((migration) => migration.name),
    ...(problem ? { problem: problem.message } : {}),
  }));
  const count = (state: SiteMigrationState['state']) => all.filter((site) => site.state === state).length;
  return {
    migrationsDir: set.dir,
    migrations: set.migrations.map((migration) => migration.name),
    summary: { sites: all.length, upToDate: count('up-to-date'), behind: count('behind'), invalid: count('invalid') },
    sites: options.pendingOnly ? all.filter((site) => site.state !== 'up-to-date') : all,
  };
}
