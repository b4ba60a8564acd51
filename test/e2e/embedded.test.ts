import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { json, runCli } from '../support/cli.js';

/**
 * The quick start a newcomer runs: no DATABASE_URL at all, so every command starts the embedded
 * PostgreSQL in the data folder, initialises the network on first use and stops the server after.
 */
const dataDir = mkdtempSync(path.join(tmpdir(), 'indigo-embedded-e2e-'));
const env = { INDIGO_DATA_DIR: dataDir, DATABASE_URL: undefined, TEST_DATABASE_URL: undefined };
const timeoutMs = 120_000;

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('embedded PostgreSQL quick start', () => {
  it('site:create on a fresh machine initialises everything and says so on stderr', async () => {
    const result = await runCli(['site:create', 'acme', '--json'], { env, timeoutMs });
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).site).toMatchObject({ slug: 'acme', schemaName: 'site_acme' });
    expect(result.stderr).toMatch(/using the embedded PostgreSQL in /);
    expect(result.stderr).toContain(dataDir);
    // Started for the command, stopped after it.
    expect(existsSync(path.join(dataDir, 'pgdata', 'postmaster.pid'))).toBe(false);
  }, timeoutMs);

  it('the next command finds the site in the same data folder', async () => {
    const result = await runCli(['site:list', '--json'], { env, timeoutMs });
    expect(result.code, result.stderr).toBe(0);
    expect(json(result).map((site: { slug: string }) => site.slug)).toEqual(['acme', 'network']);
  }, timeoutMs);

  it('commands running at once on one data folder share the server and never corrupt it', async () => {
    const slugs = ['one', 'two', 'three', 'four'];
    const results = await Promise.all(slugs.map((slug) => runCli(['site:create', slug, '--json'], { env, timeoutMs })));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const list = await runCli(['site:list', '--json'], { env, timeoutMs });
    expect(json(list).map((site: { slug: string }) => site.slug).sort()).toEqual(['acme', 'four', 'network', 'one', 'three', 'two']);
    expect(existsSync(path.join(dataDir, 'pgdata', 'postmaster.pid'))).toBe(false);
  }, timeoutMs);
});
