import type { Tx } from '../db/connect.js';

/**
 * What site:clone reads about the source schema. Every identifier comes back quoted by the
 * server (quote_ident / quote_literal) and every expression, type, constraint and index
 * definition comes from the server's own deparser (pg_get_expr, format_type,
 * pg_get_constraintdef, pg_get_indexdef), read while the source schema is the only schema on the
 * search_path: references to the source's own objects then come out unqualified and resolve to
 * the clone's objects when the DDL runs with the clone's schema on the search_path, while
 * references to shared objects keep their schema (`public.users`).
 */

export interface CatalogColumn {
  name: string;
  ident: string;
  type: string;
  /** The type (or an array's element type) is one of the source schema's own enums. */
  localType: boolean;
  collation: string | null;
  notNull: boolean;
  default: string | null;
  generated: string | null;
  /** `a` GENERATED ALWAYS, `d` BY DEFAULT. */
  identity: 'a' | 'd' | null;
  commentLiteral: string | null;
}

export interface CatalogTable {
  name: string;
  ident: string;
  unlogged: boolean;
  commentLiteral: string | null;
  columns: CatalogColumn[];
}

export interface CatalogSequence {
  name: string;
  ident: string;
  /** The bare name as a string literal, for format('%I.%I', …) on the server. */
  nameLiteral: string;
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** OWNED BY (serial) or the identity column it backs. */
  ownedBy: { table: string; column: string; identity: boolean } | null;
}

export interface CatalogEnum {
  ident: string;
  labelLiterals: string[];
}

export interface CatalogConstraint {
  ident: string;
  table: string;
  /** p primary key, u unique, x exclusion, c check, f foreign key. */
  type: 'p' | 'u' | 'x' | 'c' | 'f';
  definition: string;
}

export interface CatalogIndex {
  name: string;
  ident: string;
  table: string;
  definition: string;
}

export interface SchemaCatalog {
  tables: CatalogTable[];
  sequences: CatalogSequence[];
  enums: CatalogEnum[];
  constraints: CatalogConstraint[];
  /** Indexes that do not back a primary key, unique or exclusion constraint. */
  indexes: CatalogIndex[];
  /** What the clone cannot copy faithfully (functions, views, triggers …): it refuses instead. */
  unsupported: string[];
}

/**
 * Reads the catalog of `schemaName`. The caller must have set the search_path to that schema
 * alone for this transaction (see the module comment); the queries run pipelined on the
 * transaction's connection.
 */
export async function readSchemaCatalog(tx: Tx, schemaName: string): Promise<SchemaCatalog> {
  const ns = tx`(select oid from pg_namespace where nspname = ${schemaName})`;
  const [tables, sequences, enums, constraints, indexes, unsupported] = await Promise.all([
    tx<CatalogTable[]>`
      select c.relname as name, quote_ident(c.relname) as ident, c.relpersistence = 'u' as unlogged,
        quote_literal(obj_description(c.oid, 'pg_class')) as "commentLiteral",
        coalesce((
          select json_agg(json_build_object(
            'name', a.attname,
            'ident', quote_ident(a.attname),
            'type', format_type(a.atttypid, a.atttypmod),
            'localType', t.typnamespace = c.relnamespace
              or (t.typelem <> 0 and (select e.typnamespace from pg_type e where e.oid = t.typelem) = c.relnamespace),
            'collation', case when a.attcollation <> 0 and a.attcollation <> t.typcollation then a.attcollation::regcollation::text end,
            'notNull', a.attnotnull,
            'default', case when a.attgenerated = '' then pg_get_expr(ad.adbin, ad.adrelid) end,
            'generated', case when a.attgenerated = 's' then pg_get_expr(ad.adbin, ad.adrelid) end,
            'identity', nullif(a.attidentity, ''),
            'commentLiteral', quote_literal(col_description(c.oid, a.attnum))
          ) order by a.attnum)
          from pg_attribute a
          join pg_type t on t.oid = a.atttypid
          left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        ), '[]') as columns
      from pg_class c
      where c.relnamespace = ${ns} and c.relkind = 'r'
      order by c.relname`,
    tx<CatalogSequence[]>`
      select c.relname as name, quote_ident(c.relname) as ident, quote_literal(c.relname) as "nameLiteral", format_type(s.seqtypid, null) as type,
        s.seqstart::text as start, s.seqincrement::text as increment, s.seqmin::text as min, s.seqmax::text as max,
        s.seqcache::text as cache, s.seqcycle as cycle,
        (select json_build_object('table', quote_ident(t.relname), 'column', quote_ident(a.attname), 'identity', d.deptype = 'i')
          from pg_depend d
          join pg_class t on t.oid = d.refobjid
          join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
          where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass
            and d.refobjsubid > 0 and d.deptype in ('a', 'i') and t.relnamespace = c.relnamespace
          limit 1) as "ownedBy"
      from pg_class c join pg_sequence s on s.seqrelid = c.oid
      where c.relnamespace = ${ns} and c.relkind = 'S'
      order by c.relname`,
    tx<CatalogEnum[]>`
      select quote_ident(t.typname) as ident,
        coalesce((select array_agg(quote_literal(e.enumlabel) order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid), '{}') as "labelLiterals"
      from pg_type t
      where t.typnamespace = ${ns} and t.typtype = 'e'
      order by t.typname`,
    tx<CatalogConstraint[]>`
      select quote_ident(con.conname) as ident, quote_ident(t.relname) as table, con.contype as type,
        pg_get_constraintdef(con.oid) as definition
      from pg_constraint con join pg_class t on t.oid = con.conrelid
      where t.relnamespace = ${ns} and t.relkind = 'r' and con.contype in ('p', 'u', 'x', 'c', 'f')
      order by t.relname, con.conname`,
    tx<CatalogIndex[]>`
      select i.relname as name, quote_ident(i.relname) as ident, quote_ident(t.relname) as table, pg_get_indexdef(i.oid) as definition
      from pg_index x
      join pg_class i on i.oid = x.indexrelid
      join pg_class t on t.oid = x.indrelid
      where t.relnamespace = ${ns} and t.relkind = 'r'
        and not exists (
          select 1 from pg_constraint con
          where con.conindid = x.indexrelid and con.conrelid = x.indrelid and con.contype in ('p', 'u', 'x'))
      order by t.relname, i.relname`,
    tx<{ object: string }[]>`
      select distinct coalesce(u.prefix, '') || o.type || ' ' || o.identity as object
      from (
        select d.classid, d.objid, null::text as prefix
        from pg_depend d
        where d.refclassid = 'pg_namespace'::regclass and d.refobjid = ${ns} and d.deptype = 'n'
          and not (d.classid = 'pg_class'::regclass and (select relkind from pg_class where oid = d.objid) in ('r', 'S'))
          and not (d.classid = 'pg_type'::regclass and (select typtype from pg_type where oid = d.objid) = 'e')
        union all
        select 'pg_trigger'::regclass, tg.oid, null
        from pg_trigger tg join pg_class c on c.oid = tg.tgrelid
        where c.relnamespace = ${ns} and not tg.tgisinternal
        union all
        select 'pg_rewrite'::regclass, r.oid, null
        from pg_rewrite r join pg_class c on c.oid = r.ev_class
        where c.relnamespace = ${ns} and c.relkind = 'r'
        union all
        select 'pg_policy'::regclass, p.oid, null
        from pg_policy p join pg_class c on c.oid = p.polrelid
        where c.relnamespace = ${ns}
        union all
        select 'pg_class'::regclass, c.oid, 'row level security on '
        from pg_class c where c.relnamespace = ${ns} and c.relrowsecurity
        union all
        select 'pg_class'::regclass, c.oid, 'inheritance of '
        from pg_inherits i join pg_class c on c.oid = i.inhrelid or c.oid = i.inhparent
        where c.relnamespace = ${ns}
        union all
        select 'pg_class'::regclass, c.oid, 'typed '
        from pg_class c where c.relnamespace = ${ns} and c.reloftype <> 0
      ) u, lateral pg_identify_object(u.classid, u.objid, 0) o
      order by 1`,
  ]);
  return {
    tables: [...tables],
    sequences: [...sequences],
    enums: [...enums],
    constraints: [...constraints],
    indexes: [...indexes],
    unsupported: unsupported.map((row) => row.object),
  };
}
