import { describe, expect, it } from 'vitest';
import { checksumOf, type MigrationFile, type MigrationSet } from '../../src/lib/migrations/files.js';
import { loadSiteMigrations, pendingSiteMigrations, renderSiteMigration, siteMigrationBatch } from '../../src/lib/migrations/site.js';
import { MigrationIntegrityError, ValidationError } from '../../src/lib/errors.js';

function migration(name: string, sql = `create table t_${name} (id int);`): MigrationFile {
  return { name, file: `/m/${name}.sql`, sql, checksum: checksumOf(sql), transactional: true };
}
const set = (...migrations: MigrationFile[]): MigrationSet => ({ dir: '/m', migrations });
const applied = (m: MigrationFile, checksum = m.checksum) => ({ name: m.name, checksum, appliedAt: new Date(), durationMs: 1 });

describe('site migration rendering', () => {
  it('puts every object of the packaged migrations in the site schema', async () => {
    const packaged = await loadSiteMigrations();
    expect(packaged.migrations.length).toBeGreaterThan(0);
    const rendered = packaged.migrations.map((m) => renderSiteMigration(m, 'site_acme')).join('\n');
    expect(rendered).not.toMatch(/indigo_site_template/);
    expect(rendered).not.toMatch(/CREATE SCHEMA/i);
    expect(rendered).toMatch(/CREATE TYPE "site_acme"\."cms_content_status"/);
    expect(rendered).toMatch(/REFERENCES "site_acme"\."cms_posts"\("id"\)/);
  });

  it('leaves references to shared tables alone', () => {
    const sql = 'ALTER TABLE "indigo_site_template"."x" ADD FOREIGN KEY ("user_id") REFERENCES "public"."users"("id");';
    expect(renderSiteMigration({ sql }, 'site_a')).toBe('ALTER TABLE "site_a"."x" ADD FOREIGN KEY ("user_id") REFERENCES "public"."users"("id");');
  });

  it.each(['public', 'site_', 'site_A', 'site_a"; drop schema public; --', 'pg_catalog'])('refuses the schema name %j', (schema) => {
    expect(() => renderSiteMigration({ sql: 'select 1' }, schema)).toThrow(ValidationError);
    expect(() => siteMigrationBatch(schema, [])).toThrow(ValidationError);
  });
});

describe('site migration history checks', () => {
  const a = migration('0000_a');
  const b = migration('0001_b');
  const c = migration('0002_c');

  it('returns what is pending, in order', () => {
    expect(pendingSiteMigrations(set(a, b, c), [applied(a)]).map((m) => m.name)).toEqual(['0001_b', '0002_c']);
    expect(pendingSiteMigrations(set(a, b), [applied(a), applied(b)])).toEqual([]);
  });

  it('refuses an edited applied migration, naming the file', () => {
    expect(() => pendingSiteMigrations(set(a, b), [applied(a, checksumOf('something else'))], 'site_x')).toThrow(
      expect.objectContaining({ name: 'MigrationIntegrityError', message: expect.stringContaining('/m/0000_a.sql') }),
    );
  });

  it('refuses an applied migration whose file is gone', () => {
    expect(() => pendingSiteMigrations(set(b), [applied(a)], 'site_x')).toThrow(MigrationIntegrityError);
  });

  it('refuses a new file ordered before an applied one', () => {
    expect(() => pendingSiteMigrations(set(a, b, c), [applied(a), applied(c)], 'site_x')).toThrow(/0001_b\.sql is ordered before/);
  });
});
