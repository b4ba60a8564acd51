import type postgres from 'postgres';

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Everything a refused operation must leave as it was: every relation, type and constraint
 * outside the system schemas, the network tables' rows (sites in full, so a status or a
 * deleted_at that changed shows up; users, members and domains with the columns that change)
 * and the audit log's length.
 */
export interface CatalogSnapshot {
  relations: string[];
  types: string[];
  constraints: string[];
  sites: Record<string, unknown>[];
  users: Record<string, unknown>[];
  members: Record<string, unknown>[];
  domains: Record<string, unknown>[];
  rows: Record<string, number>;
}

export async function catalogSnapshot(sql: Sql): Promise<CatalogSnapshot> {
  const userSchemas = sql`n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'`;
  const [relations, types, constraints, sites, users, members, domains, [rows]] = await Promise.all([
    sql<{ entry: string }[]>`
      select n.nspname || '.' || c.relname || ' ' || c.relkind::text as entry
      from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${userSchemas} order by 1`,
    sql<{ entry: string }[]>`
      select n.nspname || '.' || t.typname || ' ' || t.typtype::text as entry
      from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${userSchemas} order by 1`,
    sql<{ entry: string }[]>`
      select n.nspname || '.' || c.conname || ' ' || c.contype::text as entry
      from pg_constraint c join pg_namespace n on n.oid = c.connamespace where ${userSchemas} order by 1`,
    sql<Record<string, unknown>[]>`select * from public.sites order by id`,
    sql<Record<string, unknown>[]>`select id, email, name, network_role, updated_at from public.users order by id`,
    sql<Record<string, unknown>[]>`select site_id, user_id, role from public.site_members order by site_id, user_id`,
    sql<Record<string, unknown>[]>`select id, site_id, domain, is_primary, verification_state, token from public.site_domains order by id`,
    sql<Record<string, number>[]>`
      select (select count(*) from public.sites)::int as sites,
        (select count(*) from public.site_domains)::int as site_domains,
        (select count(*) from public.site_members)::int as site_members,
        (select count(*) from public.users)::int as users,
        (select count(*) from public.audit_log)::int as audit_log`,
  ]);
  return {
    relations: relations.map((row) => row.entry),
    types: types.map((row) => row.entry),
    constraints: constraints.map((row) => row.entry),
    sites: [...sites],
    users: [...users],
    members: [...members],
    domains: [...domains],
    rows: rows!,
  };
}
