import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.js';
import {
  isSiteSchemaName,
  normalizeSiteId,
  parseScopedQueueName,
  scopedKeyFor,
  scopedQueueNameFor,
  siteSearchPath,
} from '../../src/lib/scope/index.js';
import { assertSiteSchemaName, escapeRedisGlob, quoteIdentifier } from '../../src/lib/scope/names.js';

describe('site schema names', () => {
  it.each(['site_acme', 'site_a1', 'site_my_blog', `site_${'a'.repeat(58)}`])('accepts %s', (name) => {
    expect(isSiteSchemaName(name)).toBe(true);
    expect(assertSiteSchemaName(name)).toBe(name);
  });

  it.each(['', 'acme', 'public', 'site_', 'Site_acme', 'site_ACME', 'site-acme', 'site_a-b', 'site_a b', 'site_a"b', `site_${'a'.repeat(59)}`])(
    'refuses %j',
    (name) => {
      expect(isSiteSchemaName(name)).toBe(false);
      expect(() => assertSiteSchemaName(name)).toThrow(ValidationError);
    },
  );

  it('builds a quoted search_path with public after the site', () => {
    expect(siteSearchPath('site_acme')).toBe('"site_acme", public');
    expect(() => siteSearchPath('site_acme, pg_temp')).toThrow(ValidationError);
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
  });
});

describe('site ids, keys and queue names', () => {
  it('normalises ids', () => {
    expect(normalizeSiteId(42)).toBe('42');
    expect(normalizeSiteId(42n)).toBe('42');
    expect(normalizeSiteId('0b5c7d2e-1f')).toBe('0b5c7d2e-1f');
    for (const bad of ['', 'a.b', 'a:b', 'a*', 'a?', '[a]', 'a b', NaN, Infinity, -3, 2 ** 60]) {
      expect(() => normalizeSiteId(bad as string)).toThrow(ValidationError);
    }
  });

  it('formats keys and queue names', () => {
    expect(scopedKeyFor(7, 'posts:1')).toBe('site:7:posts:1');
    expect(scopedQueueNameFor(7, 'emails')).toBe('site.7.emails');
    expect(() => scopedQueueNameFor(7, 'a:b')).toThrow(ValidationError);
    expect(() => scopedQueueNameFor(7, '')).toThrow(ValidationError);
  });

  it('parses queue names back, including names that contain dots', () => {
    expect(parseScopedQueueName('site.7.emails')).toEqual({ siteId: '7', name: 'emails' });
    expect(parseScopedQueueName('site.7.emails.daily')).toEqual({ siteId: '7', name: 'emails.daily' });
    expect(parseScopedQueueName('emails')).toBeNull();
    expect(parseScopedQueueName('site.7.')).toBeNull();
  });

  it('escapes Redis glob characters', () => {
    expect(escapeRedisGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
  });
});
