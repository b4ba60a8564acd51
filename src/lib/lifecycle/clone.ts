import { recordAudit } from '../audit.js';
import type { IndigoContext } from '../context.js';
import type { Tx } from '../db/connect.js';
import { ConflictError, ValidationError } from '../errors.js';
import { SITE_HISTORY_TABLE } from '../migrations/site.js';
import { authorize } from '../policy.js';
import { getSiteBySlug, notifySiteChanged, lockSiteBySlug } from '../sites/queries.js';
import { nameFromSlug, validateSlug } from '../sites/slug.js';
import { reserveSite, validateSiteName } from '../sites/sites.js';
import type { Site } from '../sites/types.js';
import { readSchemaCatalog, type CatalogTable, type SchemaCatalog } from './clone-catalog.js';
import {
  commentDdl,
  constraintDdl,
  copyRowsSql,
  enumDdl,
  indexDdl,
  ownedByDdl,
  sequenceDdl,
  sequenceValueSql,
  tableDdl,
} from './clone-ddl.js';
import {recordedSiteSchema, refuseDeleted } from './locked-site.js';
import { lockSchemaRelations, outsideDependents, schemaExists, type TableRows } from './schema-catalog.js';
import { countOf } from '../labels.js';

export type ClonePhase = 'structure' | 'rows' | 'indexes' | 'foreign-keys' | 'sequences' | 'members' | 'verify';

export type CloneProgressEvent =
  /** Sent once the source is locked and read: the tables to create and those whose rows are copied. */
  | { type: 'plan'; tables: string[]; copying: string[]; withMembers: boolean }
  | { type: 'phase-start'; phase: ClonePhase }
  | { type: 'phase-done'; phase: ClonePhase; detail: string }
  | { type: 'table-start'; table: string }
  | { type: 'table-done'; table: string; rows: number };

export interface CloneSiteInput {
  source: string;
  target: string;
  /** Display name of the clone; default from its slug. */
  name?: string;
  /** Tables, sequences and the migration history without the rows of the other tables. */
  schemaOnly?: boolean;
  /** Copy the source's members (with their roles) to the clone. */
  withMembers?: boolean;
  onProgress?: (event: CloneProgressEvent) => void;
}

export interface CloneSiteResult {
  site: Site;
  source: { id: number; slug: string; schemaName: string };
  schemaOnly: boolean;
  /** Every table of the clone with the rows copied into it. */
  tables: TableRows[];
  rows: number;
  enums: number;
  sequences: number;
  indexes: number;
  constraints: number;
  foreignKeys: number;
  /** Site migrations recorded in the clone's history (copied from the source). */
  migrations: string[];
  members: number;
}

/**
 * Creates site `target` as a copy of site `source`: a new site row (with the source's settings;
 * no domains) and a schema with the same enums, sequences, tables, columns, defaults,
 * constraints, indexes and migration history, and the rows unless schemaOnly. Nothing in the
 * clone refers to the source schema: its defaults, foreign keys and identity columns use its own
 * types and sequences, which continue from the source's values. Foreign keys and sequence values
 * are copied by this code rather than by catalog shortcuts, which keeps site schemas ready to be
 * distributed with Citus.
 *
 * All of it is one transaction: a kill or an error leaves no trace of the target. The source is
 * locked against other lifecycle operations and its tables against writes (SHARE) for the
 * duration, so the copy is one consistent state of the source.
 */
export async function cloneSite(ctx: IndigoContext, input: CloneSiteInput): Promise<CloneSiteResult> {
  authorize(ctx.actor, 'site.clone');
  const target = validateSlug(input.target);
  const name = validateSiteName(input.name ?? nameFromSlug(target));
  if (input.source === target) throw new ValidationError(`source and target are the same site "${target}"`);
  const progress = input.onProgress ?? (() => {});
  const copyRows = !input.schemaOnly;

  return ctx.sql.begin(async (tx) => {
    const source = await lockSiteBySlug(tx, input.source);
    refuseDeleted(source, 'cloned');
    const sourceSchema = recordedSiteSchema(source);
    if (!(await schemaExists(tx, sourceSchema))) {
      throw new ConflictError(`the schema ${sourceSchema} of site "${source.slug}" is missing (see site:stats): nothing to clone`, { slug: source.slug, schema: sourceSchema });
    }
    await lockSchemaRelations(tx, sourceSchema, 'share', ['r']);
    const [{ searchPath }] = await tx<{ searchPath: string }[]>`select current_setting('search_path') as "searchPath"`;
    await useSearchPath(tx, sourceSchema);
    const catalog = await readSchemaCatalog(tx, sourceSchema);
    if (catalog.unsupported.length > 0) {
      throw new ConflictError(
        `site:clone copies tables, columns, defaults, constraints, indexes, enums and sequences, but ${sourceSchema} also has: ${catalog.unsupported.join(', ')}; nothing was created`,
        { slug: source.slug, unsupported: catalog.unsupported },
      );
    }
    progress({
      type: 'plan',
      tables: catalog.tables.map((table) => table.name),
      copying: catalog.tables.filter((table) => copiesRows(table, copyRows)).map((table) => table.name),
      withMembers: Boolean(input.withMembers),
    });

    const { id, schemaName: targetSchema } = await reserveSite(tx, { slug: target, name, isNetworkAdmin: false, settings: source.settings });
    await useSearchPath(tx, targetSchema);
    const copied = await copySchema(tx, catalog, sourceSchema, targetSchema, copyRows, progress);

    let members = 0;
    if (input.withMembers) {
      progress({ type: 'phase-start', phase: 'members' });
      const inserted = await tx`
        insert into public.site_members (site_id, user_id, role)
        select ${id}, user_id, role from public.site_members where site_id = ${source.id}`;
      members = inserted.count;
      progress({ type: 'phase-done', phase: 'members', detail: countOf(members, 'member') });
    }

    progress({ type: 'phase-start', phase: 'verify' });
    await refuseReferencesToSource(tx, sourceSchema, targetSchema);
    progress({ type: 'phase-done', phase: 'verify', detail: `nothing in ${targetSchema} refers to ${sourceSchema}` });
    await tx`select set_config('search_path', ${searchPath}, true)`;

    const history = catalog.tables.some((table) => table.name === SITE_HISTORY_TABLE)
      ? await tx<{ name: string }[]>`select name from ${tx(targetSchema)}.${tx(SITE_HISTORY_TABLE)} order by applied_at, name`
      : [];
    const site = { id, slug: target };
    await recordAudit(tx, ctx.actor, {
      action: 'site.clone',
      site,
      details: { source: source.slug, schemaOnly: !copyRows, tables: copied.tables.length, rows: copied.rows, members },
    });
    await notifySiteChanged(tx, site);
    return {
      site: await getSiteBySlug(tx, target),
      source: { id: source.id, slug: source.slug, schemaName: sourceSchema },
      schemaOnly: !copyRows,
      ...copied,
      migrations: history.map((row) => row.name),
      members,
    };
  });
}

export { countOf } from '../labels.js';

/**
 * The migration history belongs to the schema, not to the content: a schema-only clone has the
 * same migrations applied, so it records them too.
 */
function copiesRows(table: CatalogTable, copyRows: boolean): boolean {
  return copyRows || table.name === SITE_HISTORY_TABLE;
}

async function useSearchPath(tx: Tx, schemaName: string): Promise<void> {
  await tx`select set_config('search_path', quote_ident(${schemaName}), true)`;
}

type CopiedSchema = Pick<CloneSiteResult, 'tables' | 'rows' | 'enums' | 'sequences' | 'indexes' | 'constraints' | 'foreignKeys'>;

/**
 * The DDL runs phase by phase, each phase's statements in one simple-protocol batch (one round
 * trip), with the rows copied in between: indexes and constraints are built once over the copied
 * rows rather than maintained row by row, and foreign keys come last.
 */
async function copySchema(
  tx: Tx,
  catalog: SchemaCatalog,
  sourceSchema: string,
  targetSchema: string,
  copyRows: boolean,
  progress: (event: CloneProgressEvent) => void,
): Promise<CopiedSchema> {
  const runPhase = async (phase: ClonePhase, statements: string[], detail: string): Promise<void> => {
    progress({ type: 'phase-start', phase });
    if (statements.length > 0) await tx.unsafe(statements.join(';\n'));
    progress({ type: 'phase-done', phase, detail });
  };

  const plainSequences = catalog.sequences.filter((sequence) => !sequence.ownedBy?.identity);
  await runPhase('structure', [
    ...catalog.enums.map((type) => enumDdl(targetSchema, type)),
    ...plainSequences.map((sequence) => sequenceDdl(targetSchema, sequence)),
    ...catalog.tables.map((table) => tableDdl(targetSchema, table, catalog.sequences)),
    ...catalog.tables.flatMap((table) => commentDdl(targetSchema, table)),
  ], [countOf(catalog.tables.length, 'table'), countOf(catalog.enums.length, 'enum'), countOf(catalog.sequences.length, 'sequence')].join(', '));

  progress({ type: 'phase-start', phase: 'rows' });
  const tables: TableRows[] = [];
  for (const table of catalog.tables) {
    if (!copiesRows(table, copyRows)) {
      tables.push({ table: table.name, rows: 0 });
      continue;
    }
    progress({ type: 'table-start', table: table.name });
    const result = await tx.unsafe(copyRowsSql(sourceSchema, targetSchema, table));
    tables.push({ table: table.name, rows: result.count });
    progress({ type: 'table-done', table: table.name, rows: result.count });
  }
  const rows = tables.reduce((sum, table) => sum + table.rows, 0);
  progress({ type: 'phase-done', phase: 'rows', detail: countOf(rows, 'row') });

  const keys = catalog.constraints.filter((constraint) => constraint.type !== 'f');
  const foreignKeys = catalog.constraints.filter((constraint) => constraint.type === 'f');
  await runPhase('indexes', [
    ...keys.map((constraint) => constraintDdl(targetSchema, constraint)),
    ...catalog.indexes.map((index) => indexDdl(sourceSchema, targetSchema, index)),
  ], `${countOf(keys.length, 'constraint')}, ${countOf(catalog.indexes.length, 'index', 'indexes')}`);
  await runPhase('foreign-keys', foreignKeys.map((constraint) => constraintDdl(targetSchema, constraint)), countOf(foreignKeys.length, 'foreign key'));
  await runPhase('sequences', [
    ...catalog.sequences.map((sequence) => ownedByDdl(targetSchema, sequence)).filter((statement): statement is string => statement !== null),
    // An empty schema-only clone starts its sequences afresh.
    ...(copyRows ? catalog.sequences.map((sequence) => sequenceValueSql(sourceSchema, targetSchema, sequence)) : []),
  ], `${countOf(catalog.sequences.length, 'sequence')} ${copyRows ? 'continue from the source' : 'start afresh'}`);

  return {
    tables,
    rows,
    enums: catalog.enums.length,
    sequences: catalog.sequences.length,
    indexes: catalog.indexes.length,
    constraints: keys.length,
    foreignKeys: foreignKeys.length,
  };
}

/** The last line of defence: pg_depend must show nothing in the clone that points at the source. */
async function refuseReferencesToSource(tx: Tx, sourceSchema: string, targetSchema: string): Promise<void> {
  const references = (await outsideDependents(tx, sourceSchema)).filter((dependent) => dependent.schema === targetSchema);
  if (references.length > 0) {
    throw new ConflictError(
      `the clone would refer to ${sourceSchema}: ${references.map((reference) => `${reference.via} → ${reference.dependsOn}`).join('; ')}; nothing was created`,
      { references },
    );
  }
}
