/**
 * A real DNS server on loopback for tests, built on dns2. It listens on 127.0.0.1 on one random
 * free port for both UDP and TCP (resolvers retry over TCP when a UDP answer is truncated, so a
 * large TXT set must still be answerable), serves records the test sets, and can be told to fail
 * per name in each of the ways real DNS fails.
 *
 *   const dns = await startTestDnsServer();
 *   dns.setRecords('_indigo-challenge.example.com', [{ type: 'TXT', value: 'indigo-site-verification=abc' }]);
 *   process.env.INDIGO_DNS_SERVERS = dns.serversEnv;   // or createDnsResolver({ servers: [dns.serversEnv] })
 *   ...
 *   await dns.close();
 *
 * By default it behaves like an authoritative server that is not authoritative for CNAME
 * targets: a TXT query on a name that has a CNAME gets only the CNAME back, so the client has to
 * follow it. `chaseCnames: true` makes it behave like a recursive resolver instead: the answer
 * carries the whole chain plus the target's records, NXDOMAIN when the chain ends nowhere and
 * SERVFAIL for a loop.
 */
import type { AddressInfo, Socket } from 'node:net';
import dns2 from 'dns2';
import type { DnsHandler, Packet as DnsPacket, TCPServer, UDPServer } from 'dns2';

const { Packet } = dns2;

/** RFC 1035 §4.1.1 response codes (dns2's typings do not declare Packet.RCODE). */
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export type TestDnsRecord =
  /** `value` as an array sends several character-strings in ONE record (each ≤ 255 bytes). */
  | { type: 'TXT'; value: string | readonly string[]; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number }
  | { type: 'A'; address: string; ttl?: number };

/**
 * How the server treats every query for one name:
 * - `answer`: from the records (NXDOMAIN when the name has none and nothing below it)
 * - `nxdomain` / `nodata`: that negative answer even if records are set
 * - `servfail` / `refused`: that rcode
 * - `timeout`: never answers
 * - `hold`: answers only when `release(name)` is called (to make a check observably in flight)
 */
export type TestDnsBehaviour = 'answer' | 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'hold';

export interface TestDnsQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface TestDnsServerOptions {
  /** Answer like a recursive resolver that follows CNAMEs itself. Default false. */
  chaseCnames?: boolean;
}

export interface TestDnsServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:PORT`, the value for INDIGO_DNS_SERVERS or `createDnsResolver({ servers: [...] })`. */
  readonly serversEnv: string;
  /** Every query received, in order (a resolver's retries show up as repeated entries). */
  readonly queries: readonly TestDnsQuery[];
  /** Replaces every record of `name`; an empty list removes the name. */
  setRecords(name: string, records: readonly TestDnsRecord[]): void;
  /** Sets how queries for `name` are treated; `'answer'` restores the default. */
  setBehaviour(name: string, behaviour: TestDnsBehaviour): void;
  /** Answers queries held for `name` (every held query when omitted) with the current records. */
  release(name?: string): void;
  /** Resolves with the first query for `name` (and `type`) received from now on, or already held. */
  waitForQuery(name: string, type?: string): Promise<TestDnsQuery>;
  /** Forgets every record, behaviour and logged query; held queries are dropped unanswered. */
  reset(): void;
  close(): Promise<void>;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(Packet.TYPE).map(([name, code]) => [code as number, name]));

function key(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function checkRecord(name: string, record: TestDnsRecord): void {
  if (record.type === 'TXT') {
    const strings = typeof record.value === 'string' ? [record.value] : record.value;
    for (const s of strings) {
      // dns2 writes the length in one byte without checking: a longer string would corrupt the packet.
      if (Buffer.byteLength(s, 'utf8') > 255) {
        throw new Error(`test DNS server: a TXT character-string of ${name} is longer than 255 bytes; split it`);
      }
    }
  }
}

interface Held {
  name: string;
  query: TestDnsQuery;
  answer: () => void;
}

interface Waiter {
  name: string;
  type: string | undefined;
  resolve: (query: TestDnsQuery) => void;
}

export async function startTestDnsServer(options: TestDnsServerOptions = {}): Promise<TestDnsServer> {
  const chaseCnames = options.chaseCnames ?? false;
  const records = new Map<string, TestDnsRecord[]>();
  const behaviours = new Map<string, TestDnsBehaviour>();
  const queries: TestDnsQuery[] = [];
  let held: Held[] = [];
  let waiters: Waiter[] = [];

  const hasDescendant = (name: string): boolean => {
    for (const other of records.keys()) if (other.endsWith(`.${name}`)) return true;
    return false;
  };

  const toResource = (owner: string, record: TestDnsRecord): dns2.Packet.Resource => {
    const base = { name: owner, class: Packet.CLASS.IN, ttl: record.ttl ?? 0 };
    switch (record.type) {
      case 'TXT':
        return { ...base, type: Packet.TYPE.TXT, data: typeof record.value === 'string' ? [record.value] : [...record.value] } as dns2.Packet.Resource;
      case 'CNAME':
        return { ...base, type: Packet.TYPE.CNAME, domain: key(record.target) } as dns2.Packet.Resource;
      case 'A':
        return { ...base, type: Packet.TYPE.A, address: record.address } as dns2.Packet.Resource;
    }
  };

  /** Fills `response` for one question; returns false when the server must stay silent. */
  const fill = (response: DnsPacket, qname: string, qtype: number): boolean => {
    const typeName = TYPE_NAMES.get(qtype);
    let name = key(qname);
    const seen = new Set<string>();
    for (;;) {
      const behaviour = behaviours.get(name) ?? 'answer';
      if (behaviour === 'timeout') return false;
      if (behaviour === 'servfail' || behaviour === 'refused') {
        // A recursive resolver turns an upstream failure into SERVFAIL for its own client.
        response.answers = [];
        response.header.rcode = behaviour === 'refused' && seen.size === 0 ? RCODE.REFUSED : RCODE.SERVFAIL;
        return true;
      }
      if (behaviour === 'nxdomain') {
        response.header.rcode = RCODE.NXDOMAIN;
        return true;
      }
      if (behaviour === 'nodata') return true;

      const own = records.get(name);
      if (!own || own.length === 0) {
        if (!hasDescendant(name)) response.header.rcode = RCODE.NXDOMAIN;
        return true;
      }
      const cname = own.find((r): r is Extract<TestDnsRecord, { type: 'CNAME' }> => r.type === 'CNAME');
      if (cname && typeName !== 'CNAME') {
        response.answers.push(toResource(name, cname));
        if (!chaseCnames) return true;
        seen.add(name);
        name = key(cname.target);
        if (seen.has(name) || seen.size > 16) {
          response.answers = [];
          response.header.rcode = RCODE.SERVFAIL;
          return true;
        }
        continue;
      }
      for (const record of own) {
        if (record.type === typeName || typeName === 'ANY') response.answers.push(toResource(name, record));
      }
      return true;
    }
  };

  const handle = (transport: 'udp' | 'tcp'): DnsHandler => (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (!question) return;
    const query: TestDnsQuery = { name: key(question.name), type: TYPE_NAMES.get(question.type) ?? String(question.type), transport };
    queries.push(query);
    const answer = (): void => {
      response.header.aa = chaseCnames ? 0 : 1;
      response.header.ra = chaseCnames ? 1 : 0;
      response.answers = [];
      if (fill(response, question.name, question.type)) {
        // The client may have given up and closed its socket: nothing to report.
        send(response).catch(() => {});
      }
    };
    const behaviour = behaviours.get(query.name);
    if (behaviour === 'hold') held.push({ name: query.name, query, answer });
    else answer();
    waiters = waiters.filter((w) => {
      if (w.name !== query.name || (w.type !== undefined && w.type !== query.type)) return true;
      w.resolve(query);
      return false;
    });
  };

  const sockets = new Set<Socket>();
  const listen = async (): Promise<{ udp: UDPServer; tcp: TCPServer; port: number }> => {
    // Bind UDP on a free port, then TCP on the same one; another process may hold that TCP port,
    // so start over on a fresh UDP port when it does.
    for (let attempt = 0; ; attempt++) {
      const udp = dns2.createUDPServer({ type: 'udp4' });
      udp.on('request', handle('udp'));
      udp.on('error', () => {});
      await udp.listen(0, '127.0.0.1');
      const { port } = udp.address();
      const tcp = dns2.createTCPServer();
      tcp.on('request', handle('tcp'));
      tcp.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, '127.0.0.1', () => {
            tcp.off('error', reject);
            resolve();
          });
        });
        tcp.on('error', () => {});
        return { udp, tcp, port: (tcp.address() as AddressInfo).port };
      } catch (error) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw error;
      }
    }
  };

  const { udp, tcp, port } = await listen();
  let closed = false;

  return {
    host: '127.0.0.1',
    port,
    serversEnv: `127.0.0.1:${port}`,
    queries,
    setRecords(name, list) {
      for (const record of list) checkRecord(name, record);
      if (list.length === 0) records.delete(key(name));
      else records.set(key(name), [...list]);
    },
    setBehaviour(name, behaviour) {
      if (behaviour === 'answer') behaviours.delete(key(name));
      else behaviours.set(key(name), behaviour);
    },
    release(name) {
      const target = name === undefined ? undefined : key(name);
      const now = held.filter((h) => target === undefined || h.name === target);
      held = held.filter((h) => !now.includes(h));
      if (target !== undefined && behaviours.get(target) === 'hold') behaviours.delete(target);
      if (target === undefined) for (const [n, b] of behaviours) if (b === 'hold') behaviours.delete(n);
      for (const h of now) h.answer();
    },
    waitForQuery(name, type) {
      const target = key(name);
      const already = held.find((h) => h.name === target && (type === undefined || h.query.type === type));
      if (already) return Promise.resolve(already.query);
      return new Promise((resolve) => waiters.push({ name: target, type, resolve }));
    },
    reset() {
      records.clear();
      behaviours.clear();
      queries.length = 0;
      held = [];
    },
    async close() {
      if (closed) return;
      closed = true;
      held = [];
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}
