import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.js';
import {
  ancestorDomains,
  baseDomainFromEnv,
  domainToDisplay,
  isPublicSuffix,
  isSubdomainOf,
  normalizeBaseDomain,
  normalizeDomain,
  normalizeHost,
  registrableDomain,
} from '../../src/lib/domains/normalize.js';

function refusal(input: string, options?: { baseDomain?: string }): ValidationError {
  try {
    normalizeDomain(input, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`normalizeDomain(${JSON.stringify(input)}) returned instead of refusing`);
}

const label = (length: number, char = 'a'): string => char.repeat(length);

describe('normalizeDomain: one name, many spellings', () => {
  it.each([
    ['example.com', 'example.com'],
    ['EXAMPLE.com.', 'example.com'],
    ['example.com:443', 'example.com'],
    ['Example.COM.:8443', 'example.com'],
    ['  www.Example.com  ', 'www.example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.EXAMPLE', 'xn--bcher-kva.example'],
    // IDNA maps fullwidth letters and the ideographic full stop
    ['ＥＸＡＭＰＬＥ.com', 'example.com'],
    ['münchen。de', 'xn--mnchen-3ya.de'],
    // non-transitional UTS #46, as browsers send it: ß stays ß
    ['faß.de', 'xn--fa-hia.de'],
    // emoji labels are valid UTS #46 and browsers send them as punycode, so they are accepted
    ['😀.example', 'xn--e28h.example'],
    ['a-b.example.co.uk', 'a-b.example.co.uk'],
    ['ab--cd.example', 'ab--cd.example'],
    ['www.ck', 'www.ck'],
    ['me.github.io', 'me.github.io'],
    ['example.com:65535', 'example.com'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeDomain(input)).toBe(expected);
  });

  it('bücher.example and xn--bcher-kva.example are one domain, shown in Unicode', () => {
    expect(normalizeDomain('bücher.example')).toBe(normalizeDomain('xn--bcher-kva.example'));
    expect(domainToDisplay(normalizeDomain('xn--bcher-kva.example'))).toBe('bücher.example');
    expect(domainToDisplay('example.com')).toBe('example.com');
  });

  it('accepts the longest legal labels and names', () => {
    expect(normalizeDomain(`${label(63)}.example`)).toBe(`${label(63)}.example`);
    const longest = [label(63), label(63), label(63), label(61)].join('.');
    expect(longest).toHaveLength(253);
    expect(normalizeDomain(longest)).toBe(longest);
  });
});

describe('normalizeDomain: refusals name the rule', () => {
  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['.', /empty/],
    ['co.uk', /^co\.uk is a public suffix: add a domain registered under it, like example\.co\.uk$/],
    ['CO.UK.', /^co\.uk is a public suffix/],
    ['github.io', /^github\.io is a public suffix/],
    ['com', /^com is a public suffix/],
    ['foo.ck', /^foo\.ck is a public suffix/],
    ['localhost', /at least two labels/],
    ['1.2.3.4', /^1\.2\.3\.4: this is an IP address/],
    ['1.2.3.4:80', /IP address/],
    ['[::1]', /^\[::1\]: this is an IP address/],
    ['[::1]:443', /IP address/],
    ['::1', /^::1: this is an IP address/],
    ['2001:db8::1', /IP address/],
    ['１２７.０.０.１', /IP address/],
    ['1.2.3', /last label is a number/],
    ['0x7f.1', /last label is a number/],
    ['example.123', /last label is a number/],
    ['xn--zz.example', /^xn--zz\.example: the label "xn--zz" is malformed punycode/],
    // valid punycode for "bÜcher", but not the canonical form of any IDNA label
    ['xn--bcher-2pa.example', /the label "xn--bcher-2pa" is malformed punycode/],
    // decodes to a label holding a soft hyphen, which IDNA maps away
    ['xn--ab-5da.example', /malformed punycode/],
    ['xn--.example', /malformed punycode|hyphen/],
    ['-a.example', /^-a\.example: the label "-a" starts or ends with a hyphen$/],
    ['a-.example', /the label "a-" starts or ends with a hyphen/],
    ['a..b', /^a\.\.b: it has an empty label/],
    ['.example.com', /empty label/],
    ['example.com..', /empty label/],
    [`${label(64)}.example`, /is longer than 63 characters/],
    [[label(63), label(63), label(63), label(62)].join('.'), /longer than 253 characters/],
    ['a_b.example', /^a_b\.example: only letters, digits and hyphens are allowed in a domain \("_" is not\)$/],
    ['*.example.com', /\("\*" is not\)/],
    ['example.com:abc', /^example\.com:abc: the port is not a number$/],
    ['example.com:', /port after ":" is empty/],
    ['example.com:99999', /port is larger than 65535/],
    ['a:b:c.example', /at most one ":"/],
    ['https://example.com/', /this is a URL/],
    ['example.com/path', /cannot contain spaces or any of/],
    ['ex%41mple.com', /cannot contain spaces or any of/],
    ['exa mple.com', /cannot contain spaces or any of/],
    ['user@example.com', /cannot contain spaces or any of/],
    ['[example.com]', /brackets are only used around IPv6 addresses/],
    ['\u200b.example', /IDNA|empty label/],
  ])('%j is refused', (input, rule) => {
    expect(refusal(input).message).toMatch(rule);
  });

  it('refuses the base domain and every name under it, whatever the spelling', () => {
    expect(refusal('example.net', { baseDomain: 'example.net' }).message).toBe(
      "example.net is the network's base domain: sites are reached at <slug>.example.net already; add a domain of the site's own",
    );
    expect(refusal('EXAMPLE.NET.:443', { baseDomain: 'Example.Net' }).message).toMatch(/is the network's base domain/);
    expect(refusal('sites.example.net', { baseDomain: 'example.net' }).message).toMatch(
      /^sites\.example\.net is under the network's base domain example\.net/,
    );
    expect(refusal('a.b.example.net', { baseDomain: 'example.net.' }).message).toMatch(/under the network's base domain/);
  });

  it('does not confuse a look-alike suffix with the base domain', () => {
    expect(normalizeDomain('myexample.net', { baseDomain: 'example.net' })).toBe('myexample.net');
    expect(normalizeDomain('example.net.evil.com', { baseDomain: 'example.net' })).toBe('example.net.evil.com');
    expect(normalizeDomain('example.net', { baseDomain: 'sites.example.net' })).toBe('example.net');
  });

  it('refuses an unusable base domain instead of ignoring it', () => {
    expect(() => normalizeDomain('example.com', { baseDomain: 'co.uk' })).toThrow(/base domain co\.uk is a public suffix/);
    expect(() => normalizeDomain('example.com', { baseDomain: '10.0.0.1' })).toThrow(/base domain 10\.0\.0\.1: this is an IP address/);
  });

  it('carries the input in the error details', () => {
    const error = refusal('a_b.example');
    expect(error.exitCode).toBe(2);
    expect(error.details).toEqual({ domain: 'a_b.example' });
  });
});

describe('normalizeHost (Host headers)', () => {
  it.each([
    ['Acme.Example.NET:8080', 'acme.example.net'],
    ['example.net.', 'example.net'],
    ['localhost:3000', 'localhost'],
    ['bücher.example', 'xn--bcher-kva.example'],
    // policy is the caller's: base-domain subdomains and public suffixes still parse
    ['co.uk', 'co.uk'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeHost(input)).toBe(expected);
  });

  it.each(['', '1.2.3.4', '[::1]:8080', 'a..b', 'evil.com/x', 'a_b.example', 'xn--zz.example', 'example.com:abc'])(
    '%j → null',
    (input) => {
      expect(normalizeHost(input)).toBeNull();
    },
  );

  it('returns null for missing values instead of throwing', () => {
    expect(normalizeHost(undefined)).toBeNull();
    expect(normalizeHost(null)).toBeNull();
  });
});

describe('base domain', () => {
  it('normalises and allows a single label for local setups', () => {
    expect(normalizeBaseDomain('Sites.Example.NET.')).toBe('sites.example.net');
    expect(normalizeBaseDomain('localhost')).toBe('localhost');
    expect(() => normalizeBaseDomain('github.io')).toThrow(ValidationError);
  });

  it('reads INDIGO_BASE_DOMAIN', () => {
    expect(baseDomainFromEnv({})).toBeUndefined();
    expect(baseDomainFromEnv({ INDIGO_BASE_DOMAIN: ' ' })).toBeUndefined();
    expect(baseDomainFromEnv({ INDIGO_BASE_DOMAIN: 'Example.NET' })).toBe('example.net');
    expect(() => baseDomainFromEnv({ INDIGO_BASE_DOMAIN: 'https://example.net' })).toThrow(
      /^INDIGO_BASE_DOMAIN: base domain https:\/\/example\.net: this is a URL/,
    );
  });
});

describe('domain relations', () => {
  it('isSubdomainOf is strict and label-aligned', () => {
    expect(isSubdomainOf('shop.example.com', 'example.com')).toBe(true);
    expect(isSubdomainOf('a.shop.example.com', 'example.com')).toBe(true);
    expect(isSubdomainOf('example.com', 'example.com')).toBe(false);
    expect(isSubdomainOf('myexample.com', 'example.com')).toBe(false);
    expect(isSubdomainOf('example.com', 'shop.example.com')).toBe(false);
  });

  it('registrableDomain counts private suffixes', () => {
    expect(registrableDomain('shop.example.co.uk')).toBe('example.co.uk');
    expect(registrableDomain('x.me.github.io')).toBe('me.github.io');
    expect(registrableDomain('co.uk')).toBeNull();
  });

  it('ancestorDomains lists the names another site could own, nearest first', () => {
    expect(ancestorDomains('a.b.example.co.uk')).toEqual(['b.example.co.uk', 'example.co.uk']);
    expect(ancestorDomains('shop.example.com')).toEqual(['example.com']);
    expect(ancestorDomains('example.com')).toEqual([]);
    expect(ancestorDomains('x.me.github.io')).toEqual(['me.github.io']);
  });

  it('isPublicSuffix', () => {
    expect(isPublicSuffix('co.uk')).toBe(true);
    expect(isPublicSuffix('github.io')).toBe(true);
    expect(isPublicSuffix('example.co.uk')).toBe(false);
    expect(isPublicSuffix('example')).toBe(false);
  });
});
