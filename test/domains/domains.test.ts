import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDomain,
  ConflictError,
  createSite,
  ForbiddenError,
  listDomains,
  NotFoundError,
  removeDomain,
  setPrimaryDomain,
  ValidationError,
  type IndigoContext,
} from '../../src/index.js';
import { createTestNetwork, type TestNetwork } from '../support/network.js';

let net: TestNetwork;
let ctx: IndigoContext;

beforeAll(async () => {
  net = await createTestNetwork();
  ctx = net.ctx;
  for (const slug of ['acme', 'beta', 'gamma']) await createSite(ctx, { slug });
});
afterAll(async () => {
  await net?.drop();
});

async function snapshot() {
  return {
    domains: await net.sql`select site_id, domain, is_primary, verification_state, token, token_expires_at from site_domains order by domain`,
    audit: (await net.sql`select count(*)::int as n from audit_log`)[0].n,
  };
}

const verifyInDb = (domain: string) => net.sql`update site_domains set verification_state = 'verified', verified_at = now(), token_expires_at = null where domain = ${domain}`;

describe('addDomain', () => {
  it('stores the normalised domain as pending with a fresh token, a 7-day expiry and the record to publish', async () => {
    const result = await addDomain(ctx, { site: 'acme', domain: 'Shop.Acme-Example.COM.:443', baseDomain: null });
    expect(result.created).toBe(true);
    expect(result.domain).toMatchObject({ domain: 'shop.acme-example.com', siteSlug: 'acme', verificationState: 'pending', isPrimary: false, tokenExpired: false });
    expect(result.record).toEqual({
      name: '_indigo-challenge.shop.acme-example.com',
      type: 'TXT',
      value: `indigo-site-verification=${result.domain.token}`,
    });
    const [row] = await net.sql`select token_expires_at - now() as ttl, (token_expires_at - now()) between interval '6 days 23 hours' and interval '7 days' as week from site_domains where domain = 'shop.acme-example.com'`;
    expect(row.week).toBe(true);
    const [audit] = await net.sql`select action, site_slug, details from audit_log order by id desc limit 1`;
    expect(audit).toMatchObject({ action: 'domain.add', site_slug: 'acme', details: { domain: 'shop.acme-example.com' } });
  });

  it('gives every domain its own token', async () => {
    const a = await addDomain(ctx, { site: 'acme', domain: 'token-a.example', baseDomain: null });
    const b = await addDomain(ctx, { site: 'acme', domain: 'token-b.example', baseDomain: null });
    expect(a.domain.token).toMatch(/^[0-9a-f]{32}$/);
    expect(a.domain.token).not.toBe(b.domain.token);
  });

  it('stores an IDN as punycode: both spellings are one domain', async () => {
    await addDomain(ctx, { site: 'acme', domain: 'bücher.example', baseDomain: null });
    await expect(addDomain(ctx, { site: 'beta', domain: 'xn--bcher-kva.example', baseDomain: null })).rejects.toThrow(
      /xn--bcher-kva\.example is already attached to site "acme"/,
    );
  });

  it('refuses a domain another site has, naming that site, and changes nothing', async () => {
    const before = await snapshot();
    const error = await addDomain(ctx, { site: 'beta', domain: 'SHOP.acme-example.com', baseDomain: null }).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.exitCode).toBe(4);
    expect(error.message).toBe('shop.acme-example.com is already attached to site "acme"');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a domain attached to a soft-deleted site and says the site is deleted', async () => {
    await addDomain(ctx, { site: 'gamma', domain: 'old-gamma.example', baseDomain: null });
    await net.sql`update sites set deleted_at = now(), deleted_by = 'test' where slug = 'gamma'`;
    try {
      await expect(addDomain(ctx, { site: 'beta', domain: 'old-gamma.example', baseDomain: null })).rejects.toThrow(
        'old-gamma.example is already attached to site "gamma" (soft-deleted)',
      );
      await expect(addDomain(ctx, { site: 'gamma', domain: 'new-gamma.example', baseDomain: null })).rejects.toThrow(/soft-deleted: restore it/);
    } finally {
      await net.sql`update sites set deleted_at = null, deleted_by = null where slug = 'gamma'`;
    }
  });

  it('refuses the same domain twice on one site unless --renew, which issues a fresh token', async () => {
    const first = await addDomain(ctx, { site: 'beta', domain: 'renew.example', baseDomain: null });
    await expect(addDomain(ctx, { site: 'beta', domain: 'renew.example', baseDomain: null })).rejects.toThrow(
      'renew.example is already attached to site "beta" (pending): use --renew for a fresh token',
    );
    await net.sql`update site_domains set token_expires_at = now() - interval '1 day', verification_state = 'failed' where domain = 'renew.example'`;
    const [listed] = await listDomains(ctx, { site: 'beta', status: 'failed' });
    expect(listed).toMatchObject({ domain: 'renew.example', tokenExpired: true });

    const renewed = await addDomain(ctx, { site: 'beta', domain: 'renew.example', renew: true, baseDomain: null });
    expect(renewed).toMatchObject({ created: false, renewed: true });
    expect(renewed.domain).toMatchObject({ verificationState: 'pending', tokenExpired: false });
    expect(renewed.domain.token).not.toBe(first.domain.token);
    expect(renewed.record.value).toBe(`indigo-site-verification=${renewed.domain.token}`);
    const [audit] = await net.sql`select action, details from audit_log order by id desc limit 1`;
    expect(audit).toMatchObject({ action: 'domain.renew', details: { domain: 'renew.example', previousState: 'failed' } });
  });

  it('with --renew on a new domain simply adds it; a verified domain has nothing to renew', async () => {
    const added = await addDomain(ctx, { site: 'beta', domain: 'renew-new.example', renew: true, baseDomain: null });
    expect(added).toMatchObject({ created: true, renewed: false });
    await verifyInDb('renew-new.example');
    await expect(addDomain(ctx, { site: 'beta', domain: 'renew-new.example', renew: true, baseDomain: null })).rejects.toThrow(/verified: there is nothing to renew/);
  });

  it('refuses bad input, the base domain and names under it before touching the database', async () => {
    const before = await snapshot();
    for (const domain of ['co.uk', 'github.io', '192.168.0.1', 'localhost', 'http://x.example/', 'xn--zz.example']) {
      await expect(addDomain(ctx, { site: 'acme', domain, baseDomain: null })).rejects.toThrow(ValidationError);
    }
    await expect(addDomain(ctx, { site: 'acme', domain: 'sites.example.net', baseDomain: 'sites.example.net' })).rejects.toThrow(/base domain/);
    await expect(addDomain(ctx, { site: 'acme', domain: 'beta.sites.example.net', baseDomain: 'sites.example.net' })).rejects.toThrow(/under the network's base domain/);
    await expect(addDomain(ctx, { site: 'nope', domain: 'fine.example', baseDomain: null })).rejects.toThrow(NotFoundError);
    expect(await snapshot()).toEqual(before);
  });

  it('reads the base domain from INDIGO_BASE_DOMAIN by default', async () => {
    process.env.INDIGO_BASE_DOMAIN = 'Sites.Example.NET';
    try {
      await expect(addDomain(ctx, { site: 'acme', domain: 'acme.sites.example.net' })).rejects.toThrow(/under the network's base domain sites\.example\.net/);
    } finally {
      delete process.env.INDIGO_BASE_DOMAIN;
    }
  });

  it('refuses a name under a domain another site has verified (takeover), but not under its own', async () => {
    await addDomain(ctx, { site: 'acme', domain: 'acme-corp.co.uk', baseDomain: null });
    await verifyInDb('acme-corp.co.uk');
    const before = await snapshot();
    for (const domain of ['www.acme-corp.co.uk', 'a.b.acme-corp.co.uk']) {
      const error = await addDomain(ctx, { site: 'beta', domain, baseDomain: null }).catch((e) => e);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error.message).toBe(`${domain} is under acme-corp.co.uk, which site "acme" has verified: only that site may use names under it`);
    }
    expect(await snapshot()).toEqual(before);
    await expect(addDomain(ctx, { site: 'acme', domain: 'www.acme-corp.co.uk', baseDomain: null })).resolves.toMatchObject({ created: true });
  });

  it('does not treat a pending parent or a sibling under a public suffix as a takeover', async () => {
    await addDomain(ctx, { site: 'acme', domain: 'pending-parent.example', baseDomain: null });
    await expect(addDomain(ctx, { site: 'beta', domain: 'www.pending-parent.example', baseDomain: null })).resolves.toMatchObject({ created: true });
    await addDomain(ctx, { site: 'acme', domain: 'acme.github.io', baseDomain: null });
    await verifyInDb('acme.github.io');
    await expect(addDomain(ctx, { site: 'beta', domain: 'beta.github.io', baseDomain: null })).resolves.toMatchObject({ created: true });
  });

  it('of two operators adding one domain at once to different sites, exactly one succeeds', async () => {
    const results = await Promise.allSettled([
      addDomain(ctx, { site: 'acme', domain: 'race.example', baseDomain: null }),
      addDomain(ctx, { site: 'beta', domain: 'race.example', baseDomain: null }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    expect((await net.sql`select count(*)::int as n from site_domains where domain = 'race.example'`)[0].n).toBe(1);
  });

  it('is refused for a user without the superadmin role', async () => {
    const staff = { ...ctx, actor: { kind: 'user' as const, userId: 1, email: 'staff@example.com', networkRole: 'staff' as const } };
    await expect(addDomain(staff, { site: 'acme', domain: 'staff.example', baseDomain: null })).rejects.toThrow(ForbiddenError);
  });
});

describe('primary domains', () => {
  it('--primary on add, then domain:primary moves it: one primary per site', async () => {
    await addDomain(ctx, { site: 'gamma', domain: 'gamma-one.example', primary: true, baseDomain: null });
    await addDomain(ctx, { site: 'gamma', domain: 'gamma-two.example', baseDomain: null });
    const moved = await setPrimaryDomain(ctx, { domain: 'GAMMA-TWO.example' });
    expect(moved).toMatchObject({ changed: true, previous: 'gamma-one.example', domain: { domain: 'gamma-two.example', isPrimary: true } });
    const again = await setPrimaryDomain(ctx, { domain: 'gamma-two.example' });
    expect(again.changed).toBe(false);
    const primaries = await net.sql`select domain from site_domains d join sites s on s.id = d.site_id where s.slug = 'gamma' and is_primary`;
    expect(primaries.map((r) => r.domain)).toEqual(['gamma-two.example']);
    const [audit] = await net.sql`select action, details from audit_log where action = 'domain.primary' order by id desc limit 1`;
    expect(audit.details).toEqual({ domain: 'gamma-two.example', previous: 'gamma-one.example' });
  });

  it('two primaries set at once leave exactly one', async () => {
    await addDomain(ctx, { site: 'gamma', domain: 'gamma-three.example', baseDomain: null });
    await Promise.all([setPrimaryDomain(ctx, { domain: 'gamma-one.example' }), setPrimaryDomain(ctx, { domain: 'gamma-three.example' })]);
    const primaries = await net.sql`select domain from site_domains d join sites s on s.id = d.site_id where s.slug = 'gamma' and is_primary`;
    expect(primaries).toHaveLength(1);
  });

  it('of an unknown domain is not found', async () => {
    await expect(setPrimaryDomain(ctx, { domain: 'unknown.example' })).rejects.toThrow(NotFoundError);
  });
});

describe('listDomains', () => {
  it('filters by site and state and shows the owning site', async () => {
    const all = await listDomains(ctx);
    expect(all.length).toBeGreaterThan(5);
    const verified = await listDomains(ctx, { status: 'verified' });
    expect(verified.map((d) => d.domain).sort()).toEqual(['acme-corp.co.uk', 'acme.github.io', 'renew-new.example']);
    const beta = await listDomains(ctx, { site: 'beta' });
    expect(new Set(beta.map((d) => d.siteSlug))).toEqual(new Set(['beta']));
    await expect(listDomains(ctx, { site: 'missing' })).rejects.toThrow(NotFoundError);
  });
});

describe('removeDomain', () => {
  it('removes the domain with an audit entry', async () => {
    await addDomain(ctx, { site: 'beta', domain: 'remove-me.example', baseDomain: null });
    const removed = await removeDomain(ctx, { domain: 'Remove-Me.example.' });
    expect(removed.domain).toMatchObject({ domain: 'remove-me.example', siteSlug: 'beta' });
    expect(await net.sql`select 1 from site_domains where domain = 'remove-me.example'`).toHaveLength(0);
    const [audit] = await net.sql`select action, site_slug, details from audit_log order by id desc limit 1`;
    expect(audit).toMatchObject({ action: 'domain.remove', site_slug: 'beta', details: { domain: 'remove-me.example', state: 'pending', wasPrimary: false } });
  });

  it('with --site refuses a domain of another site; unknown domains are not found', async () => {
    const before = await snapshot();
    await expect(removeDomain(ctx, { domain: 'shop.acme-example.com', site: 'beta' })).rejects.toThrow('shop.acme-example.com belongs to site "acme", not to site "beta"');
    await expect(removeDomain(ctx, { domain: 'never-added.example' })).rejects.toThrow(NotFoundError);
    await expect(removeDomain(ctx, { domain: 'not a domain' })).rejects.toThrow(ValidationError);
    expect(await snapshot()).toEqual(before);
  });

  it('notifies resolver caches on every change', async () => {
    const listener = net.pool;
    const payloads: string[] = [];
    const subscription = await listener.listen('indigo_sites_changed', (payload) => payloads.push(payload));
    try {
      await addDomain(ctx, { site: 'beta', domain: 'notify.example', baseDomain: null });
      await setPrimaryDomain(ctx, { domain: 'notify.example' });
      await removeDomain(ctx, { domain: 'notify.example' });
      const [{ id }] = await net.sql`select id from sites where slug = 'beta'`;
      await expect.poll(() => payloads.length).toBe(3);
      expect(payloads.map((p) => JSON.parse(p))).toEqual(Array(3).fill({ siteId: Number(id), slug: 'beta' }));
    } finally {
      await subscription.unlisten();
    }
  });
});
