/**
 * Proof of domain ownership: the owner publishes a TXT record
 *
 *   _indigo-challenge.<domain>  TXT  "indigo-site-verification=<token>"
 *
 * and `checkDomainTxt` looks for it. The result separates answers that settle the question
 * (`verified`, `wrong_value`, `no_record`) from failures to get an answer (`unknown`: SERVFAIL,
 * REFUSED, timeouts, unreachable servers). Callers must never count `unknown` against a domain:
 * a DNS outage would otherwise unverify every domain at once.
 */
import { randomBytes } from 'node:crypto';
import type { Resolver } from 'node:dns/promises';
import { checkMilliseconds } from '../duration.js';
import { ValidationError } from '../errors.js';
import { createDnsResolver, dnsServersFromEnv } from './dns-config.js';
import { normalizeHost } from './normalize.js';

export const CHALLENGE_PREFIX = '_indigo-challenge';
export const VERIFICATION_VALUE_PREFIX = 'indigo-site-verification=';
/** CNAMEs followed from the challenge name before giving up. */
export const MAX_CNAME_DEPTH = 8;
export const DEFAULT_CHECK_TIMEOUT_MS = 5000;

// Tokens go inside one TXT character-string (≤ 255 bytes) together with the prefix, and are
// printed for people to copy: visible ASCII without quotes or spaces.
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{16,200}$/;

/** The part of a resolver the check uses; `node:dns` `Resolver` (see `createDnsResolver`) fits. */
export type TxtResolver = Pick<Resolver, 'resolveTxt' | 'resolveCname'>;

/** A fresh verification token: 128 random bits as 32 lowercase hex characters. */
export function createVerificationToken(): string {
  return randomBytes(16).toString('hex');
}

function checkToken(token: string): void {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
    throw new ValidationError(
      'a verification token is 16–200 characters of letters, digits and . _ ~ + / = - (use createVerificationToken())',
    );
  }
}

function checkDomain(domain: string): string {
  const host = normalizeHost(domain);
  if (host === null) throw new ValidationError(`${String(domain)}: not a valid domain name`, { domain });
  return host;
}

/** `_indigo-challenge.<domain>`, for a normalised domain. */
export function challengeName(domain: string): string {
  return `${CHALLENGE_PREFIX}.${checkDomain(domain)}`;
}

/** `indigo-site-verification=<token>`. */
export function challengeValue(token: string): string {
  checkToken(token);
  return `${VERIFICATION_VALUE_PREFIX}${token}`;
}

export interface ChallengeRecord {
  name: string;
  type: 'TXT';
  value: string;
}

/** What the owner of `domain` must publish: the record `domain:add` prints. */
export function challengeRecord(domain: string, token: string): ChallengeRecord {
  return { name: challengeName(domain), type: 'TXT', value: challengeValue(token) };
}

/** A DNS failure that prevented an answer: `code` is the `node:dns` code (ESERVFAIL, EREFUSED, ETIMEOUT, ECONNREFUSED, …). */
export interface DnsLookupError {
  code: string;
  message: string;
}

interface DnsCheckCommon {
  /** The normalised domain checked. */
  domain: string;
  /** The challenge name queried first. */
  name: string;
  /** The TXT value that verifies. */
  expected: string;
  /**
   * CNAME targets this check followed itself, in order. Empty when there were none or when a
   * recursive resolver followed them already (it returns the target's records directly).
   */
  cnames: string[];
  /** One sentence for people, saying exactly what DNS answered. */
  message: string;
}

export type DnsCheckResult =
  | (DnsCheckCommon & { outcome: 'verified' })
  /** TXT records exist; `found` holds each record's joined strings, none equal to `expected`. */
  | (DnsCheckCommon & { outcome: 'wrong_value'; found: string[] })
  /**
   * DNS said definitely that there is no such record: the name does not exist (`nxdomain`), it
   * has no TXT record (`nodata`), or its CNAME chain loops or is longer than MAX_CNAME_DEPTH.
   */
  | (DnsCheckCommon & { outcome: 'no_record'; reason: 'nxdomain' | 'nodata' | 'cname_loop' | 'cname_too_deep' })
  /** No answer could be had; nothing is known about the record. Never a reason to fail a domain. */
  | (DnsCheckCommon & { outcome: 'unknown'; error: DnsLookupError });

export type DnsCheckOutcome = DnsCheckResult['outcome'];

export interface CheckDomainTxtInput {
  /** A normalised domain (as stored); other spellings are normalised, garbage is a ValidationError. */
  domain: string;
  expectedToken: string;
  /** Defaults to a resolver on INDIGO_DNS_SERVERS or the system's servers; share one across checks. */
  resolver?: TxtResolver;
  /**
   * Deadline for the whole check, CNAMEs included, in ms. Past it the result is `unknown`
   * (ETIMEOUT). The resolver's own per-attempt timeout still bounds each query underneath.
   */
  timeoutMs?: number;
}

/** Node's codes for a definite negative answer; every other code means "could not find out". */
const NXDOMAIN = 'ENOTFOUND';
const NODATA = 'ENODATA';

class DeadlineExceeded extends Error {
  readonly code = 'ETIMEOUT';
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeFailure(code: string, raw: string): string {
  switch (code) {
    case 'ESERVFAIL':
      return 'the DNS server failed to answer (SERVFAIL)';
    case 'EREFUSED':
      return 'the DNS server refused the query (REFUSED)';
    case 'ETIMEOUT':
      return 'the DNS server did not answer in time';
    case 'ECONNREFUSED':
      return 'the DNS server could not be reached (connection refused)';
    case 'ENOTIMP':
      return 'the DNS server does not implement this query (NOTIMP)';
    case 'EFORMERR':
    case 'EBADRESP':
      return 'the DNS server sent a malformed answer';
    default:
      return `DNS lookup failed (${code}: ${raw})`;
  }
}

function list(values: readonly string[]): string {
  const shown = values.slice(0, 5).map((v) => JSON.stringify(v.length > 120 ? `${v.slice(0, 117)}...` : v));
  return values.length > 5 ? `${shown.join(', ')} and ${values.length - 5} more` : shown.join(', ');
}

function path(name: string, cnames: readonly string[]): string {
  return cnames.length === 0 ? name : `${name} (CNAME → ${cnames.join(' → ')})`;
}

/** Why a wrong value is wrong, when it is one of the usual publishing mistakes. */
function hint(found: readonly string[], expected: string): string {
  // Records of one set come back in any order, so compare pieces rather than one concatenation.
  const pieces = found.filter((value) => value !== '');
  if (pieces.length > 1 && pieces.every((value) => expected.includes(value)) && pieces.join('').length === expected.length) {
    return ' The value is split across several TXT records: publish it as ONE record.';
  }
  if (found.some((value) => value.replace(/^[\s"']+|[\s"']+$/g, '') === expected)) {
    return ' A record holds the value with extra quotes or spaces around it: remove them.';
  }
  if (found.some((value) => value.startsWith(VERIFICATION_VALUE_PREFIX))) {
    return ' A record holds a verification value for another token (an older one?): replace it with the value above.';
  }
  return '';
}

/**
 * Looks up the challenge TXT record of `domain` and says what it found. Any ONE record whose
 * strings, joined, equal `indigo-site-verification=<token>` verifies; strings of one record are
 * joined, separate records never are. CNAMEs on the challenge name are followed here when the
 * server returns the CNAME alone (an authoritative server does), up to MAX_CNAME_DEPTH, with loop
 * detection. Never rejects for DNS failures (they are `unknown`); throws ValidationError for an
 * invalid domain or token and rethrows errors that carry no DNS error code (bugs).
 */
export async function checkDomainTxt(input: CheckDomainTxtInput): Promise<DnsCheckResult> {
  const domain = checkDomain(input.domain);
  const expected = challengeValue(input.expectedToken);
  const timeoutMs = checkMilliseconds(input.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, 'the check timeout');
  const resolver = input.resolver ?? createDnsResolver({ servers: dnsServersFromEnv() });
  const name = `${CHALLENGE_PREFIX}.${domain}`;
  const cnames: string[] = [];
  const common = (): DnsCheckCommon => ({ domain, name, expected, cnames: [...cnames], message: '' });

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  // The race may lose to the deadline while a query is still running: its late rejection must
  // not surface as an unhandled rejection.
  deadline.catch(() => {});
  const ask = <T>(query: Promise<T>): Promise<T> => {
    query.catch(() => {});
    return Promise.race([query, deadline]);
  };

  const unknown = (error: unknown): DnsCheckResult => {
    const code = errorCode(error);
    // No code, or Node's ERR_* argument errors: a bug in the caller or a resolver, not DNS.
    if (code === undefined || code.startsWith('ERR_')) throw error;
    const what =
      error instanceof DeadlineExceeded
        ? `no answer within ${timeoutMs} ms`
        : describeFailure(code, error instanceof Error ? error.message : String(error));
    return {
      ...common(),
      outcome: 'unknown',
      error: { code, message: what },
      message: `Could not check ${path(name, cnames)}: ${what}. Nothing was decided; check again later.`,
    };
  };
  const noRecord = (reason: 'nxdomain' | 'nodata' | 'cname_loop' | 'cname_too_deep', current: string): DnsCheckResult => {
    const publish = `Publish a TXT record at ${name} with the value ${JSON.stringify(expected)}.`;
    const where = path(name, cnames);
    const message = {
      nxdomain: `${cnames.length ? `${where}: ${current}` : name} does not exist (NXDOMAIN). ${publish}`,
      nodata: `${cnames.length ? `${where}: ${current}` : name} has no TXT record. ${publish}`,
      cname_loop: `${where}: the CNAME chain loops back to ${current}, so no TXT record can be found. Fix the CNAME records.`,
      cname_too_deep: `${where}: more than ${MAX_CNAME_DEPTH} CNAMEs in a row; the chain is not followed further. Point the CNAME closer to the TXT record.`,
    }[reason];
    return { ...common(), outcome: 'no_record', reason, message };
  };

  try {
    let current = name;
    const visited = new Set([current]);
    for (;;) {
      let records: string[][];
      try {
        records = await ask(resolver.resolveTxt(current));
      } catch (error) {
        const code = errorCode(error);
        if (code === NXDOMAIN) return noRecord('nxdomain', current);
        if (code !== NODATA) return unknown(error);
        records = [];
      }

      if (records.length > 0) {
        const found = records.map((strings) => strings.join(''));
        const where = path(name, cnames);
        if (found.includes(expected)) {
          return { ...common(), outcome: 'verified', message: `Found the expected TXT record at ${where}: ${JSON.stringify(expected)}.` };
        }
        const count = found.length === 1 ? 'a TXT record' : `${found.length} TXT records`;
        return {
          ...common(),
          outcome: 'wrong_value',
          found,
          message: `${where} has ${count} but none is ${JSON.stringify(expected)}; found ${list(found)}.${hint(found, expected)}`,
        };
      }

      // No TXT here. A server that does not chase CNAMEs answers a TXT query on an alias with the
      // CNAME alone (or with nothing): ask for the CNAME to know whether there is somewhere to go.
      let targets: string[];
      try {
        targets = await ask(resolver.resolveCname(current));
      } catch (error) {
        const code = errorCode(error);
        if (code === NODATA || code === NXDOMAIN) return noRecord('nodata', current);
        return unknown(error);
      }
      const target = targets[0]?.toLowerCase().replace(/\.$/, '');
      if (target === undefined || target === '') return noRecord('nodata', current);
      if (visited.has(target)) {
        cnames.push(target);
        return noRecord('cname_loop', target);
      }
      if (cnames.length >= MAX_CNAME_DEPTH) return noRecord('cname_too_deep', current);
      cnames.push(target);
      visited.add(target);
      current = target;
    }
  } finally {
    clearTimeout(timer);
  }
}
