import { ValidationError } from '../errors.js';

/** PostgreSQL truncates identifiers beyond 63 bytes; `site_` takes 5 of them. */
export const SCHEMA_PREFIX = 'site_';
export const MAX_SLUG_LENGTH = 63 - SCHEMA_PREFIX.length;

/**
 * Slugs that would be confusing or dangerous as a subdomain, a schema or a route. Slugs cannot
 * contain `_`, so `information_schema` and `pg_*` are refused by the character rule already;
 * their hyphenated look-alikes are listed so nobody gets a site that reads like a system schema.
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'public', 'www', 'admin', 'api', 'app', 'apps', 'assets', 'static', 'cdn', 'media', 'mail', 'email', 'smtp', 'imap',
  'ftp', 'ns', 'ns1', 'ns2', 'dns', 'status', 'help', 'support', 'docs', 'blog', 'dashboard', 'login', 'logout',
  'signup', 'register', 'auth', 'oauth', 'sso', 'account', 'accounts', 'billing', 'network', 'root', 'system',
  'localhost', 'postgres', 'template', 'template0', 'template1', 'information-schema', 'site', 'sites', 'indigo',
]);

export type SlugCheck = { ok: true; slug: string } | { ok: false; rule: string };

/** The first rule the slug breaks, or ok. Pure: used for live validation at the prompt too. */
export function checkSlug(input: string): SlugCheck {
  const slug = input;
  if (slug.length === 0) return { ok: false, rule: 'the slug is empty' };
  if (Buffer.byteLength(slug, 'utf8') > MAX_SLUG_LENGTH) {
    return { ok: false, rule: `the slug is longer than ${MAX_SLUG_LENGTH} characters (its schema name ${SCHEMA_PREFIX}<slug> must fit PostgreSQL's 63-byte limit)` };
  }
  if (/[A-Z]/.test(slug)) return { ok: false, rule: 'the slug must be lowercase' };
  if (!/^[a-z0-9-]+$/.test(slug)) return { ok: false, rule: 'the slug may contain only lowercase letters a-z, digits and hyphens' };
  if (!/^[a-z]/.test(slug)) return { ok: false, rule: 'the slug must start with a letter' };
  if (slug.endsWith('-')) return { ok: false, rule: 'the slug must not end with a hyphen' };
  if (slug.includes('--')) return { ok: false, rule: 'the slug must not contain two hyphens in a row' };
  if (RESERVED_SLUGS.has(slug) || /^pg(-|$)/.test(slug)) return { ok: false, rule: `"${slug}" is reserved` };
  return { ok: true, slug };
}

export function validateSlug(input: string): string {
  const check = checkSlug(input);
  if (!check.ok) throw new ValidationError(`invalid slug ${JSON.stringify(input)}: ${check.rule}`, { slug: input, rule: check.rule });
  return check.slug;
}

/** `acme-corp` → `site_acme_corp`. Injective because slugs never contain `_`. */
export function schemaNameForSlug(slug: string): string {
  // Reserved slugs (the network admin site's) still have a schema: check the shape only.
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(slug) || slug.length > MAX_SLUG_LENGTH) validateSlug(slug);
  return SCHEMA_PREFIX + slug.replaceAll('-', '_');
}

/** `acme-corp` → `Acme Corp`: the default site name. */
export function nameFromSlug(slug: string): string {
  return slug.split('-').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(' ');
}
