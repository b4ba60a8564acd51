/**
 * Domain names as the network stores and compares them: lowercase ASCII (IDN labels in punycode),
 * no trailing dot, no port. Two spellings of one name (`EXAMPLE.com.`, `example.com:443`,
 * `bücher.example` / `xn--bcher-kva.example`) always normalise to the same string, so the unique
 * index on `site_domains.domain` and the host lookup compare like with like.
 *
 * Pure functions: no DNS, no database, no environment except in `baseDomainFromEnv`.
 */
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseSuffix, getDomain } from 'tldts';
import { ValidationError } from '../errors.js';

export const MAX_DOMAIN_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;
export const BASE_DOMAIN_ENV = 'INDIGO_BASE_DOMAIN';

// Private suffixes count (github.io, blogspot.com): a name directly under them belongs to a
// different customer of that provider, so claiming the suffix itself would claim all of them.
const SUFFIX_OPTIONS = {
  allowPrivateDomains: true,
  extractHostname: false,
  validateHostname: false,
  detectIp: false,
  mixedInputs: false,
} as const;

// Dots that IDNA maps to "." (ideographic, fullwidth, halfwidth ideographic): an input typed on
// a CJK keyboard splits into labels at these too.
const LABEL_SEPARATORS = /[.\u3002\uFF0E\uFF61]/;
const LDH_LABEL = /^[a-z0-9-]+$/;
const TRAILING_SEPARATOR = /[.\u3002\uFF0E\uFF61]$/;
const NON_ASCII = /[^\x00-\x7f]/;
const IP_RULE = 'this is an IP address, not a domain';
const EMPTY_LABEL_RULE = 'it has an empty label (a leading dot or two dots in a row)';

type Parsed = { ok: true; domain: string } | { ok: false; rule: string };

const fail = (rule: string): Parsed => ({ ok: false, rule });

function quote(input: string): string {
  return input.length > 80 ? `${input.slice(0, 77)}...` : input;
}

/**
 * Syntax and IDN rules shared by every entry point. Single labels pass (callers decide whether
 * they are acceptable); `rule` is the reason without the input, so each caller can phrase the
 * error around what it was given.
 */
function parseHostname(raw: string): Parsed {
  let host = raw.trim().toLowerCase();
  if (host === '') return fail('the domain is empty');
  if (host.includes('://')) return fail('this is a URL: give the domain only, like example.com');
  // `%` too: URL host parsing would percent-decode it into a different name.
  if (/[\s/\\?#@%]/.test(host)) {
    return fail('a domain cannot contain spaces or any of / \\ ? # @ %: give the domain only, like example.com');
  }

  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    const inner = close === -1 ? host.slice(1) : host.slice(1, close);
    return isIP(inner) === 6 ? fail(IP_RULE) : fail('brackets are only used around IPv6 addresses');
  }
  const colons = host.split(':').length - 1;
  if (colons > 1) {
    return isIP(host) === 6 ? fail(IP_RULE) : fail('a domain contains at most one ":" (before a port)');
  }
  if (colons === 1) {
    const at = host.indexOf(':');
    const port = host.slice(at + 1);
    if (port === '') return fail('the port after ":" is empty');
    if (!/^\d+$/.test(port)) return fail('the port is not a number');
    if (Number(port) > 65535) return fail('the port is larger than 65535');
    host = host.slice(0, at);
  }
  host = host.replace(TRAILING_SEPARATOR, '');
  if (host === '') return fail('the domain is empty');
  if (host.split(LABEL_SEPARATORS).some((label) => label === '')) return fail(EMPTY_LABEL_RULE);

  if (NON_ASCII.test(host)) {
    const ascii = domainToASCII(host);
    if (ascii === '') return fail('it is not a valid internationalised domain name (IDNA rules)');
    host = ascii;
  }
  // After IDN mapping, since fullwidth digits map to ASCII ones.
  if (isIP(host) !== 0) return fail(IP_RULE);
  const labels = host.split('.');
  // URL parsers read `1.2.3`, `0x7f.1` and `127.1` as IPv4 addresses; no top-level domain is numeric.
  if (/^(\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1]!)) {
    return fail('the last label is a number, so this reads as an IP address, not a domain');
  }

  if (host.length > MAX_DOMAIN_LENGTH) return fail(`it is longer than ${MAX_DOMAIN_LENGTH} characters`);
  for (const label of labels) {
    if (label === '') return fail(EMPTY_LABEL_RULE);
    if (label.length > MAX_LABEL_LENGTH) {
      return fail(`the label "${quote(label)}" is longer than ${MAX_LABEL_LENGTH} characters`);
    }
    if (!LDH_LABEL.test(label)) {
      const bad = [...label].find((c) => !/[a-z0-9-]/.test(c))!;
      return fail(`only letters, digits and hyphens are allowed in a domain ("${bad}" is not)`);
    }
    if (label.startsWith('-') || label.endsWith('-')) return fail(`the label "${label}" starts or ends with a hyphen`);
    if (label.startsWith('xn--')) {
      // An `xn--` label must be the canonical encoding of a valid Unicode label; anything else
      // would let two different strings name one host (or name none).
      const unicode = domainToUnicode(label);
      if (unicode === '' || !NON_ASCII.test(unicode) || domainToASCII(unicode) !== label) {
        return fail(`the label "${label}" is malformed punycode (it does not decode to a valid internationalised label)`);
      }
    }
  }
  return { ok: true, domain: host };
}

/** True when the whole name is a public suffix (ICANN like `co.uk`, or private like `github.io`). */
export function isPublicSuffix(domain: string): boolean {
  const info = parseSuffix(domain, SUFFIX_OPTIONS);
  return (info.isIcann === true || info.isPrivate === true) && info.publicSuffix === domain;
}

function publicSuffixRule(domain: string): string {
  return `${domain} is a public suffix: add a domain registered under it, like example.${domain}`;
}

/**
 * Normalises a network's base domain (`INDIGO_BASE_DOMAIN`). A single label such as `localhost`
 * is allowed (slug subdomains like `acme.localhost` are a common local setup); an IP address or a
 * public suffix is not, because `<slug>.<base>` must be names the network controls.
 */
export function normalizeBaseDomain(input: string): string {
  const parsed = parseHostname(String(input ?? ''));
  if (!parsed.ok) throw new ValidationError(`base domain ${quote(String(input ?? ''))}: ${parsed.rule}`, { domain: input });
  if (isPublicSuffix(parsed.domain)) {
    throw new ValidationError(`base domain ${publicSuffixRule(parsed.domain)}`, { domain: parsed.domain });
  }
  return parsed.domain;
}

/** `INDIGO_BASE_DOMAIN`, normalised; undefined when unset or blank. Throws ValidationError when invalid. */
export function baseDomainFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[BASE_DOMAIN_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return normalizeBaseDomain(value);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(`${BASE_DOMAIN_ENV}: ${error.message}`, error.details);
    throw error;
  }
}

export interface NormalizeDomainOptions {
  /**
   * The network's base domain. It and every name under it are refused: those are the slug
   * subdomains the network itself serves (`<slug>.<base>`).
   */
  baseDomain?: string;
}

/**
 * Normalises a custom domain an operator attaches to a site and enforces the rules for it.
 * Returns lowercase ASCII (punycode) without trailing dot or port. Throws ValidationError naming
 * the broken rule: empty, URL or stray characters, bad port, IP address, hostname syntax (labels
 * 1–63 letters/digits/hyphens, no hyphen at either end, ≤ 253 characters, at least two labels),
 * invalid IDN or malformed punycode, a public suffix itself, the base domain or a name under it.
 */
export function normalizeDomain(input: string, options: NormalizeDomainOptions = {}): string {
  const shown = quote(String(input ?? '').trim());
  if (typeof input !== 'string') throw new ValidationError('the domain must be a string', { domain: input });
  const parsed = parseHostname(input);
  if (!parsed.ok) throw new ValidationError(shown === '' ? parsed.rule : `${shown}: ${parsed.rule}`, { domain: input });
  const domain = parsed.domain;

  if (isPublicSuffix(domain)) throw new ValidationError(publicSuffixRule(domain), { domain });
  if (!domain.includes('.')) {
    throw new ValidationError(`${shown}: a domain needs at least two labels, like example.com`, { domain });
  }

  if (options.baseDomain !== undefined) {
    const base = normalizeBaseDomain(options.baseDomain);
    if (domain === base) {
      throw new ValidationError(
        `${domain} is the network's base domain: sites are reached at <slug>.${base} already; add a domain of the site's own`,
        { domain, baseDomain: base },
      );
    }
    if (isSubdomainOf(domain, base)) {
      throw new ValidationError(
        `${domain} is under the network's base domain ${base}: names there are the network's slug subdomains; add a domain of the site's own`,
        { domain, baseDomain: base },
      );
    }
  }
  return domain;
}

/**
 * Normalises an incoming `Host` (or `:authority`) value for lookup: same syntax and IDN rules as
 * `normalizeDomain` but never throws and applies no policy (single labels and names under the base
 * domain are fine — slug subdomains live there). Returns null for anything that is not a hostname,
 * IP addresses included, so a proxy can answer "no site" without a try/catch.
 */
export function normalizeHost(input: string | null | undefined): string | null {
  if (typeof input !== 'string') return null;
  const parsed = parseHostname(input);
  return parsed.ok ? parsed.domain : null;
}

/** True when `child` is strictly below `parent` (`a.example.com` under `example.com`; not itself). Both normalised. */
export function isSubdomainOf(child: string, parent: string): boolean {
  return child.length > parent.length + 1 && child.endsWith(parent) && child[child.length - parent.length - 1] === '.';
}

/**
 * The registrable domain ("eTLD+1") of a normalised domain, private suffixes included:
 * `shop.example.co.uk` → `example.co.uk`, `me.github.io` → `me.github.io`; null for a public suffix.
 */
export function registrableDomain(domain: string): string | null {
  return getDomain(domain, SUFFIX_OPTIONS);
}

/**
 * The strict ancestors of a normalised domain that can belong to someone, nearest first, stopping
 * at the registrable domain: `a.b.example.co.uk` → [`b.example.co.uk`, `example.co.uk`]. These are
 * the names whose verification by another site makes `domain` a takeover attempt; look them up
 * with one indexed `domain = any(...)` query.
 */
export function ancestorDomains(domain: string): string[] {
  const registrable = registrableDomain(domain);
  if (registrable === null || registrable === domain || !isSubdomainOf(domain, registrable)) return [];
  const ancestors: string[] = [];
  let rest = domain;
  while (rest !== registrable) {
    rest = rest.slice(rest.indexOf('.') + 1);
    ancestors.push(rest);
  }
  return ancestors;
}

/** The Unicode form of a normalised domain for people to read (`xn--bcher-kva.example` → `bücher.example`). */
export function domainToDisplay(domain: string): string {
  const unicode = domainToUnicode(domain);
  return unicode === '' ? domain : unicode;
}
