import { AsyncLocalStorage } from 'node:async_hooks';
import { NotFoundError, ValidationError } from '../errors.js';
import { ScopeNotConfiguredError, ScopeRequiredError } from './errors.js';
import { assertQueueName, assertSiteSchemaName, keyPrefixOf, normalizeSiteId, queuePrefixOf, type SiteIdInput } from './names.js';

/**
 * A resolved site, as `resolveHost`, `extractSiteContext` or a host application's own lookup
 * returns it. `siteId` may be a number, bigint or string; the scope keeps its string form.
 */
export interface SiteContext {
  siteId: SiteIdInput;
  schemaName: string;
  slug?: string;
  status?: string;
}

/** The site the current async call chain runs for. Read it with `getScope()`. */
export interface SiteScope {
  readonly siteId: string;
  readonly schemaName: string;
  readonly slug?: string;
  readonly status?: string;
}

/** Turns a bare site id or slug into a site context; null when there is no such site. */
export type ResolveSite = (ref: SiteIdInput) => Promise<SiteContext | null> | SiteContext | null;

export interface WithScopeOptions {
  /** Overrides the resolver set with `configureScope` for this call. */
  resolveSite?: ResolveSite;
}

export interface ScopeConfiguration {
  /** Used when `withScope` is given an id or slug instead of a site context. */
  resolveSite?: ResolveSite | null;
}

/**
 * What AsyncLocalStorage holds. The prefixes are computed once per scope so that
 * `getScopedKey` is a single string concatenation on the hot path.
 */
interface ScopeRecord {
  readonly scope: SiteScope;
  readonly keyPrefix: string;
  readonly queuePrefix: string;
}

const storage = new AsyncLocalStorage<ScopeRecord | undefined>();

// The only module state is the resolver function the host application chooses; the library
// keeps no database handle of its own.
let configuredResolver: ResolveSite | undefined;

/** Sets (or with `resolveSite: null`, clears) the resolver for `withScope(idOrSlug, fn)`. */
export function configureScope(configuration: ScopeConfiguration): void {
  if ('resolveSite' in configuration) {
    configuredResolver = configuration.resolveSite ?? undefined;
  }
}

function toRecord(site: SiteContext): ScopeRecord {
  if (typeof site !== 'object' || site === null) {
    throw new ValidationError('withScope needs a site context, a site id or a slug', { site });
  }
  const siteId = normalizeSiteId(site.siteId);
  const schemaName = assertSiteSchemaName(site.schemaName);
  const scope: { siteId: string; schemaName: string; slug?: string; status?: string } = { siteId, schemaName };
  if (site.slug !== undefined) scope.slug = site.slug;
  if (site.status !== undefined) scope.status = site.status;
  return { scope, keyPrefix: keyPrefixOf(siteId), queuePrefix: queuePrefixOf(siteId) };
}

/**
 * Runs `fn` with `site` as the current scope and returns what `fn` returns. Everything `fn`
 * starts (awaits, timers, promise chains, emitters created inside) sees the same scope; a
 * nested `withScope` replaces it for its own callback only.
 *
 * Given a site context, the call is synchronous. Given a bare id or slug, the site is first
 * looked up with `options.resolveSite` or the resolver from `configureScope`, so the result is
 * a promise; an unknown site rejects with NotFoundError and a missing resolver with
 * ScopeNotConfiguredError.
 *
 * Site status is not checked here: a suspended site's requests still need their scope (to
 * render a "suspended" page, say). Workers refuse suspended sites (see `createScopedProcessor`).
 */
export function withScope<T>(site: SiteContext, fn: () => T): T;
export function withScope<T>(site: SiteIdInput, fn: () => T, options?: WithScopeOptions): Promise<Awaited<T>>;
export function withScope<T>(
  site: SiteContext | SiteIdInput,
  fn: () => T,
  options?: WithScopeOptions,
): T | Promise<Awaited<T>> {
  if (typeof site === 'object' && site !== null) {
    return storage.run(toRecord(site), fn);
  }
  return runResolved(site, fn, options?.resolveSite ?? configuredResolver);
}

async function runResolved<T>(ref: SiteIdInput, fn: () => T, resolve: ResolveSite | undefined): Promise<Awaited<T>> {
  if (typeof ref !== 'string' && typeof ref !== 'number' && typeof ref !== 'bigint') {
    throw new ValidationError('withScope needs a site context, a site id or a slug', { site: ref });
  }
  if (!resolve) {
    throw new ScopeNotConfiguredError(
      `withScope(${JSON.stringify(String(ref))}) needs a resolver: call configureScope({ resolveSite }) or pass { resolveSite }`,
    );
  }
  const context = await resolve(ref);
  if (!context) throw new NotFoundError(`site ${JSON.stringify(String(ref))} not found`, { site: String(ref) });
  return await storage.run(toRecord(context), fn);
}

/** The current scope, or null outside any `withScope`. */
export function getScope(): SiteScope | null {
  return storage.getStore()?.scope ?? null;
}

/** The current scope; throws ScopeRequiredError outside any `withScope` (fail closed). */
export function requireScope(operation = 'this operation'): SiteScope {
  const record = storage.getStore();
  if (!record) {
    throw new ScopeRequiredError(`${operation} must run inside withScope(site, fn), but no site scope is active`);
  }
  return record.scope;
}

/** `site:<siteId>:<key>` inside a scope; `key` unchanged outside one. */
export function getScopedKey(key: string): string {
  const record = storage.getStore();
  return record ? record.keyPrefix + key : key;
}

/** `site:<siteId>:<name>` inside a scope, for pub/sub and WebSocket channels; `name` outside. */
export function getScopedChannel(name: string): string {
  const record = storage.getStore();
  return record ? record.keyPrefix + name : name;
}

/**
 * `site.<siteId>.<name>` inside a scope; `name` outside. BullMQ forbids `:` in queue names,
 * hence `.` as the separator; `name` itself must not contain `:` either.
 */
export function getScopedQueueName(name: string): string {
  assertQueueName(name);
  const record = storage.getStore();
  return record ? record.queuePrefix + name : name;
}

/** Runs `fn` with no scope at all, e.g. network-wide work started from inside a request. */
export function withoutScope<T>(fn: () => T): T {
  return storage.run(undefined, fn);
}

/**
 * Captures the current scope (or the absence of one) and returns a function that always runs
 * `fn` in it. For callbacks that a long-lived object created outside the scope will call later
 * (a shared EventEmitter, a connection's 'message' handler), where the caller's scope is not the
 * one the callback was registered in.
 */
export function bindScope<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const record = storage.getStore();
  return (...args: A) => storage.run(record, fn, ...args);
}
