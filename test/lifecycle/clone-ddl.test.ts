import { describe, expect, it } from 'vitest';
import { copyRowsSql, indexDdl, sequenceValueSql, tableDdl } from '../../src/lib/lifecycle/clone-ddl.js';
import type { CatalogColumn, CatalogSequence, CatalogTable } from '../../src/lib/lifecycle/clone-catalog.js';
import { ValidationError } from '../../src/index.js';

const column = (overrides: Partial<CatalogColumn>): CatalogColumn => ({
  name: 'x', ident: 'x', type: 'text', localType: false, collation: null, notNull: false, default: null, generated: null, identity: null, commentLiteral: null, ...overrides,
});

describe('clone DDL', () => {
  it('rewrites only the table reference of an index definition, whatever the index expression says', () => {
    const index = { name: 'odd', ident: 'odd', table: 'cms_posts', definition: "CREATE UNIQUE INDEX odd ON site_acme.cms_posts USING btree (lower(title)) WHERE (title <> 'site_acme.cms_posts')" };
    expect(indexDdl('site_acme', 'site_copy', index)).toBe(`CREATE UNIQUE INDEX odd ON "site_copy".cms_posts USING btree (lower(title)) WHERE (title <> 'site_acme.cms_posts')`);
    expect(indexDdl('site_acme', 'site_copy', { ...index, definition: 'CREATE INDEX odd ON ONLY site_acme.cms_posts USING btree (id)' })).toBe('CREATE INDEX odd ON ONLY "site_copy".cms_posts USING btree (id)');
  });

  it('refuses an index definition of an unexpected shape instead of guessing', () => {
    const index = { name: 'odd', ident: 'odd', table: 'cms_posts', definition: 'CREATE INDEX odd ON other_schema.cms_posts USING btree (id)' };
    expect(() => indexDdl('site_acme', 'site_copy', index)).toThrow(/cannot rewrite the definition of index odd/);
  });

  it('refuses schema names that are not site schema names before any SQL is built', () => {
    const table: CatalogTable = { name: 't', ident: 't', unlogged: false, commentLiteral: null, columns: [column({})] };
    expect(() => tableDdl('public', table, [])).toThrow(ValidationError);
    expect(() => copyRowsSql('site_a"; drop schema public; --', 'site_b', table)).toThrow(ValidationError);
    const sequence = { name: 's', ident: 's', nameLiteral: "'s'" } as CatalogSequence;
    expect(() => sequenceValueSql('site_a', "site_b', 'x", sequence)).toThrow(ValidationError);
  });

  it('builds identity, generated, collated and defaulted columns, and casts copied enum values to the clone’s type', () => {
    const identity: CatalogSequence = { name: 't_id_seq', ident: 't_id_seq', nameLiteral: "'t_id_seq'", type: 'bigint', start: '1', increment: '1', min: '1', max: '9223372036854775807', cache: '1', cycle: false, ownedBy: { table: 't', column: 'id', identity: true } };
    const table: CatalogTable = {
      name: 't', ident: 't', unlogged: true, commentLiteral: null,
      columns: [
        column({ name: 'id', ident: 'id', type: 'bigint', notNull: true, identity: 'a' }),
        column({ name: 'state', ident: 'state', type: 'status', localType: true, default: "'draft'::status" }),
        column({ name: 'title', ident: 'title', collation: '"C"' }),
        column({ name: 'size', ident: 'size', type: 'integer', generated: 'length(title)' }),
      ],
    };
    expect(tableDdl('site_b', table, [identity])).toBe([
      'create unlogged table "site_b".t (',
      '  id bigint generated always as identity (sequence name "site_b".t_id_seq increment by 1 minvalue 1 maxvalue 9223372036854775807 start with 1 cache 1 no cycle) not null,',
      "  state status default 'draft'::status,",
      '  title text collate "C",',
      '  size integer generated always as (length(title)) stored',
      ')',
    ].join('\n'));
    expect(copyRowsSql('site_a', 'site_b', table)).toBe('insert into "site_b".t (id, state, title) overriding system value select id, state::text::status, title from "site_a".t');
  });
});
