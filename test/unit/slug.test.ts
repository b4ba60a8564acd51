import { describe, expect, it } from 'vitest';
import { checkSlug, MAX_SLUG_LENGTH, nameFromSlug, schemaNameForSlug, validateSlug } from '../../src/lib/sites/slug.js';
import { ValidationError } from '../../src/lib/errors.js';

describe('slug rules', () => {
  it.each([
    ['', /empty/],
    ['A', /lowercase/],
    ['Acme', /lowercase/],
    ['1abc', /start with a letter/],
    ['a_b', /only lowercase letters/],
    ['-a', /start with a letter/],
    ['a-', /end with a hyphen/],
    ['a--b', /two hyphens/],
    ['public', /reserved/],
    ['www', /reserved/],
    ['admin', /reserved/],
    ['api', /reserved/],
    ['network', /reserved/],
    ['pg-catalog', /reserved/],
    ['information_schema', /only lowercase letters/],
    ['information-schema', /reserved/],
    ['a";drop schema public cascade;--', /only lowercase letters/],
    ['caf\u00e9', /only lowercase letters/],
    ['\u{1F680}', /only lowercase letters/],
    ['a b', /only lowercase letters/],
    ['a'.repeat(MAX_SLUG_LENGTH + 1), /longer than 58/],
  ])('refuses %j naming the rule', (slug, rule) => {
    const check = checkSlug(slug);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.rule).toMatch(rule);
    expect(() => validateSlug(slug)).toThrow(ValidationError);
  });

  it.each(['a', 'acme', 'acme-corp', 'a1', 'x-1-2', 'pgadmin', 'a'.repeat(MAX_SLUG_LENGTH)])('accepts %j', (slug) => {
    expect(validateSlug(slug)).toBe(slug);
  });

  it('maps a slug of the maximum length to a schema name of exactly 63 bytes', () => {
    const schema = schemaNameForSlug('a'.repeat(MAX_SLUG_LENGTH));
    expect(Buffer.byteLength(schema)).toBe(63);
  });

  it('maps slugs to schema names injectively', () => {
    expect(schemaNameForSlug('acme-corp')).toBe('site_acme_corp');
    expect(schemaNameForSlug('acmecorp')).toBe('site_acmecorp');
    // `acme_corp` would collide with `acme-corp`, and it is not a valid slug.
    expect(checkSlug('acme_corp').ok).toBe(false);
  });

  it('derives a display name from the slug', () => {
    expect(nameFromSlug('acme-corp')).toBe('Acme Corp');
  });
});
