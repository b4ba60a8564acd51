/**
 * Which DNS servers domain verification asks, and how long it waits for them.
 *
 * By default the system's resolvers are used. `INDIGO_DNS_SERVERS` (comma-separated `host`,
 * `host:port`, `[ipv6]:port` or bare IPv6) replaces them — tests point it at a loopback server,
 * operators at a resolver they trust to see fresh records.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkMilliseconds } from '../duration.js';
import { ValidationError } from '../errors.js';

export const DNS_SERVERS_ENV = 'INDIGO_DNS_SERVERS';

/**
 * c-ares waits this long for the first attempt and doubles the wait for each retry, so with the
 * default two tries a dead server costs about 3 × this per server, not the 30 s or more of the
 * system default.
 */
export const DEFAULT_DNS_ATTEMPT_TIMEOUT_MS = 1500;
export const DEFAULT_DNS_TRIES = 2;

/**
 * Parses a comma-separated server list into the strings `Resolver#setServers` accepts
 * (`1.1.1.1`, `127.0.0.1:5353`, `[::1]:53`, `::1`). Blank entries are ignored. Servers must be IP
 * addresses: the resolver cannot look up the name of its own server.
 */
export function parseDnsServers(value: string, source = DNS_SERVERS_ENV): string[] {
  const servers: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const invalid = (rule: string): ValidationError =>
      new ValidationError(`${source}: "${entry}" ${rule}`, { [source]: value, entry });

    let host: string;
    let port: string | undefined;
    if (entry.startsWith('[')) {
      const match = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
      if (!match) throw invalid('is not a valid [IPv6]:port server');
      host = match[1]!;
      port = match[2];
      if (isIP(host) !== 6) throw invalid('has brackets around something that is not an IPv6 address');
    } else if (isIP(entry) === 6) {
      host = entry;
    } else {
      const parts = entry.split(':');
      if (parts.length > 2) throw invalid('is not an IP address (write IPv6 servers with a port as [address]:port)');
      host = parts[0]!;
      port = parts[1];
      if (isIP(host) !== 4) throw invalid('is not an IP address (DNS servers are given by address, not by name)');
    }
    if (port !== undefined) {
      if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        throw invalid('has a port that is not a number from 1 to 65535');
      }
    }
    const bracketed = isIP(host) === 6 ? `[${host}]` : host;
    servers.push(port === undefined ? host : `${bracketed}:${Number(port)}`);
  }
  return servers;
}

/** The servers from `INDIGO_DNS_SERVERS`, or undefined (use the system's) when unset or blank. */
export function dnsServersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const value = env[DNS_SERVERS_ENV];
  if (value === undefined) return undefined;
  const servers = parseDnsServers(value);
  return servers.length === 0 ? undefined : servers;
}

export interface DnsResolverOptions {
  /** `setServers` strings (see `parseDnsServers`); the system's servers when omitted or empty. */
  servers?: readonly string[];
  /** Wait for the first attempt at each server, in ms; c-ares doubles it for every retry. */
  timeoutMs?: number;
  /** Attempts per server before c-ares gives up with ETIMEOUT. */
  tries?: number;
}

/**
 * A `node:dns` promises Resolver with bounded waits. One resolver can serve many concurrent
 * checks; do not call `cancel()` on a shared one, it aborts every query in flight.
 */
export function createDnsResolver(options: DnsResolverOptions = {}): Resolver {
  const timeoutMs = checkMilliseconds(options.timeoutMs ?? DEFAULT_DNS_ATTEMPT_TIMEOUT_MS, 'the DNS timeout');
  const tries = options.tries ?? DEFAULT_DNS_TRIES;
  if (!Number.isInteger(tries) || tries < 1) {
    throw new ValidationError(`the number of DNS tries must be a whole number ≥ 1 (got ${tries})`);
  }
  const resolver = new Resolver({ timeout: timeoutMs, tries });
  if (options.servers && options.servers.length > 0) {
    try {
      resolver.setServers([...options.servers]);
    } catch (error) {
      throw new ValidationError(`invalid DNS server list ${options.servers.join(',')}: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
  }
  return resolver;
}
