import { IndigoError } from '../errors.js';
import { assertSiteSchemaName } from '../migrations/site.js';
import type { CatalogColumn, CatalogConstraint, CatalogEnum, CatalogIndex, CatalogSequence, CatalogTable } from './clone-catalog.js';

/**
 * The statements site:clone runs, built from the source's catalog. DDL cannot take bind
 * parameters, so these are SQL text; what goes into them is either a schema name that passed
 * the strict site schema regex (site_[a-z][a-z0-9_]*, so it never needs quoting) or text the
 * server produced itself: quote_ident / quote_literal output and the server's deparsed
 * definitions (see clone-catalog.ts). Nothing a user typed is interpolated.
 */

function schemaIdent(schemaName: string): string {
  assertSiteSchemaName(schemaName);
  return `"${schemaName}"`;
}

export function enumDdl(targetSchema: string, type: CatalogEnum): string {
  return `create type ${schemaIdent(targetSchema)}.${type.ident} as enum (${type.labelLiterals.join(', ')})`;
}

function sequenceOptions(sequence: CatalogSequence): string {
  return `increment by ${sequence.increment} minvalue ${sequence.min} maxvalue ${sequence.max} start with ${sequence.start} cache ${sequence.cache} ${sequence.cycle ? 'cycle' : 'no cycle'}`;
}

/** Sequences that are not identity sequences (those come with their column). */
export function sequenceDdl(targetSchema: string, sequence: CatalogSequence): string {
  return `create sequence ${schemaIdent(targetSchema)}.${sequence.ident} as ${sequence.type} ${sequenceOptions(sequence)}`;
}

function columnDdl(targetSchema: string, column: CatalogColumn, identitySequence: CatalogSequence | undefined): string {
  const parts = [column.ident, column.type];
  if (column.collation) parts.push(`collate ${column.collation}`);
  if (column.identity) {
    if (!identitySequence) throw new IndigoError(`identity column ${column.name} has no identity sequence in the catalog`);
    parts.push(
      `generated ${column.identity === 'a' ? 'always' : 'by default'} as identity ` +
        `(sequence name ${schemaIdent(targetSchema)}.${identitySequence.ident} ${sequenceOptions(identitySequence)})`,
    );
  }
  if (column.generated !== null) parts.push(`generated always as (${column.generated}) stored`);
  if (column.default !== null) parts.push(`default ${column.default}`);
  if (column.notNull) parts.push('not null');
  return parts.join(' ');
}

export function tableDdl(targetSchema: string, table: CatalogTable, sequences: CatalogSequence[]): string {
  const identity = new Map(
    sequences.filter((sequence) => sequence.ownedBy?.identity && sequence.ownedBy.table === table.ident).map((sequence) => [sequence.ownedBy!.column, sequence]),
  );
  const columns = table.columns.map((column) => `  ${columnDdl(targetSchema, column, identity.get(column.ident))}`);
  return `create ${table.unlogged ? 'unlogged ' : ''}table ${schemaIdent(targetSchema)}.${table.ident} (\n${columns.join(',\n')}\n)`;
}

export function commentDdl(targetSchema: string, table: CatalogTable): string[] {
  const qualified = `${schemaIdent(targetSchema)}.${table.ident}`;
  return [
    ...(table.commentLiteral ? [`comment on table ${qualified} is ${table.commentLiteral}`] : []),
    ...table.columns.filter((column) => column.commentLiteral).map((column) => `comment on column ${qualified}.${column.ident} is ${column.commentLiteral}`),
  ];
}

/**
 * Generated columns are computed again by the clone; identity values are copied as they are.
 * Values of the source's own enums go through text into the clone's enum of the same name (run
 * with the clone's schema on the search_path, the unqualified type name is the clone's).
 */
export function copyRowsSql(sourceSchema: string, targetSchema: string, table: CatalogTable): string {
  const copied = table.columns.filter((column) => column.generated === null);
  const names = copied.map((column) => column.ident).join(', ');
  const values = copied.map((column) => (column.localType ? `${column.ident}::text::${column.type}` : column.ident)).join(', ');
  return `insert into ${schemaIdent(targetSchema)}.${table.ident} (${names}) overriding system value select ${values} from ${schemaIdent(sourceSchema)}.${table.ident}`;
}

export function constraintDdl(targetSchema: string, constraint: CatalogConstraint): string {
  return `alter table ${schemaIdent(targetSchema)}.${constraint.table} add constraint ${constraint.ident} ${constraint.definition}`;
}

/**
 * pg_get_indexdef() always names the table with its schema, whatever the search_path, so the
 * source schema is replaced in exactly that one place: the `ON [ONLY] schema.table USING` part
 * right after the index name. Anything that does not start the expected way is refused rather
 * than guessed at.
 */
export function indexDdl(sourceSchema: string, targetSchema: string, index: CatalogIndex): string {
  assertSiteSchemaName(sourceSchema);
  for (const unique of ['UNIQUE ', '']) {
    for (const only of ['ONLY ', '']) {
      const head = `CREATE ${unique}INDEX ${index.ident} ON ${only}`;
      const sourceTable = `${sourceSchema}.${index.table} USING `;
      if (index.definition.startsWith(head + sourceTable)) {
        return `${head}${schemaIdent(targetSchema)}.${index.table} USING ${index.definition.slice(head.length + sourceTable.length)}`;
      }
    }
  }
  throw new IndigoError(`cannot rewrite the definition of index ${index.name} for the clone: ${index.definition}`, { index: index.name });
}

export function ownedByDdl(targetSchema: string, sequence: CatalogSequence): string | null {
  if (!sequence.ownedBy || sequence.ownedBy.identity) return null;
  const target = schemaIdent(targetSchema);
  return `alter sequence ${target}.${sequence.ident} owned by ${target}.${sequence.ownedBy.table}.${sequence.ownedBy.column}`;
}

/** Sets the clone's sequence to where the source's stands (last value and whether it was used). */
export function sequenceValueSql(sourceSchema: string, targetSchema: string, sequence: CatalogSequence): string {
  assertSiteSchemaName(targetSchema);
  return `select setval(format('%I.%I', '${targetSchema}', ${sequence.nameLiteral})::regclass, last_value, is_called) from ${schemaIdent(sourceSchema)}.${sequence.ident}`;
}
