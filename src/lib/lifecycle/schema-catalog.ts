import type { Queryable, Tx } from '../db/connect.js';

/** An object outside a site schema that depends on something inside it. */
export interface OutsideDependent {
  /** The object that would disappear with the schema, e.g. `view public.recent_posts`. */
  object: string;
  /** The dependency's own catalog entry, e.g. `rule "_RETURN" on public.recent_posts`. */
  via: string;
  /** What inside the site schema it depends on, e.g. `table column site_acme.cms_posts.id`. */
  dependsOn: string;
  /** The schema the dependent object lives in (null when it belongs to no schema, e.g. an extension). */
  schema: string | null;
}

/**
 * Every pg_depend entry whose referenced object lives in `schemaName` and whose dependent object
 * does not: what `DROP SCHEMA … CASCADE` would silently take with it (a view in `public`, a
 * foreign key from another schema, a default calling one of the site's sequences), and what a
 * clone must never point at. Internal dependencies (a table's TOAST table, its row type) are
 * parts of the object itself and are left out.
 */
export async function outsideDependents(sql: Queryable, schemaName: string): Promise<OutsideDependent[]> {
  return sql<OutsideDependent[]>`
    with site_ns as (select oid from pg_namespace where nspname = ${schemaName}),
    site_objects(classid, objid) as (
      select 'pg_namespace'::regclass, oid from site_ns
      union select d.classid, d.objid from pg_depend d, site_ns
        where d.refclassid = 'pg_namespace'::regclass and d.refobjid = site_ns.oid and d.deptype = 'n'
      union select 'pg_class'::regclass, c.oid from pg_class c, site_ns where c.relnamespace = site_ns.oid
      union select 'pg_type'::regclass, t.oid from pg_type t, site_ns where t.typnamespace = site_ns.oid
    ),
    dependents as (
      select distinct d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid,
        -- Rules, defaults, triggers, policies and table constraints live where their table lives.
        case d.classid
          when 'pg_class'::regclass then d.objid
          when 'pg_rewrite'::regclass then (select ev_class from pg_rewrite where oid = d.objid)
          when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = d.objid)
          when 'pg_trigger'::regclass then (select tgrelid from pg_trigger where oid = d.objid)
          when 'pg_policy'::regclass then (select polrelid from pg_policy where oid = d.objid)
          when 'pg_constraint'::regclass then (select nullif(conrelid, 0) from pg_constraint where oid = d.objid)
        end as relid
      from pg_depend d join site_objects s on d.refclassid = s.classid and d.refobjid = s.objid
      where d.deptype <> 'i'
    ),
    placed as (
      select x.*, coalesce(
        (select relnamespace from pg_class where oid = x.relid),
        case x.classid
          when 'pg_type'::regclass then (select typnamespace from pg_type where oid = x.objid)
          when 'pg_proc'::regclass then (select pronamespace from pg_proc where oid = x.objid)
          when 'pg_constraint'::regclass then (select connamespace from pg_constraint where oid = x.objid)
        end,
        (select oid from pg_namespace where nspname = (pg_identify_object(x.classid, x.objid, 0)).schema)
      ) as nsp
      from dependents x
    )
    select distinct o.type || ' ' || o.identity as object, v.type || ' ' || v.identity as via,
      r.type || ' ' || r.identity as "dependsOn", (select nspname from pg_namespace where oid = p.nsp) as schema
    from placed p, site_ns,
      lateral pg_identify_object(case when p.relid is not null then 'pg_class'::regclass else p.classid end, coalesce(p.relid, p.objid), 0) o,
      lateral pg_identify_object(p.classid, p.objid, p.objsubid) v,
      lateral pg_identify_object(p.refclassid, p.refobjid, p.refobjsubid) r
    where p.nsp is distinct from site_ns.oid
    order by object, via, "dependsOn"`;
}

export interface TableRows {
  table: string;
  rows: number;
}

/**
 * Exact row counts of every table in the schema, in one round trip: the server runs one
 * `count(*)` per table, quoting the names itself with format('%I').
 */
export async function tableRowCounts(sql: Queryable, schemaName: string): Promise<TableRows[]> {
  return sql<TableRows[]>`
    select c.relname as table,
      (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint as rows
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName} and c.relkind in ('r', 'p')
    order by c.relname`;
}

export type TableLockMode = 'share' | 'access exclusive';

/**
 * Locks every table, view and materialized view of the schema in one statement. The names come
 * back from the server already quoted (format('%I.%I')), which is why the statement text may be
 * assembled here: nothing typed by a user reaches it.
 */
export async function lockSchemaRelations(tx: Tx, schemaName: string, mode: TableLockMode, relkinds: string[] = ['r', 'p', 'v', 'm', 'f']): Promise<number> {
  const [{ names }] = await tx<{ names: string[] }[]>`
    select coalesce(array_agg(format('%I.%I', n.nspname, c.relname) order by c.relname), '{}') as names
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schemaName} and c.relkind::text = any(${relkinds}::text[])`;
  if (names.length === 0) return 0;
  await tx.unsafe(`lock table ${names.join(', ')} in ${mode === 'share' ? 'share' : 'access exclusive'} mode`);
  return names.length;
}

export async function schemaExists(sql: Queryable, schemaName: string): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select exists (select 1 from pg_namespace where nspname = ${schemaName}) as exists`;
  return row!.exists;
}
