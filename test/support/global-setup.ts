import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/lib/db/embedded.js';

/**
 * One PostgreSQL server for the whole run: TEST_DATABASE_URL / DATABASE_URL when set, else an
 * embedded PostgreSQL in a temporary data folder. Test files get their own databases from it
 * (see ./db.ts), so they never see each other's sites.
 */
let embedded: EmbeddedServer | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  let adminUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (!adminUrl) {
    dataDir = mkdtempSync(path.join(tmpdir(), 'indigo-test-pg-'));
    embedded = await startEmbeddedPostgres({ dataDir });
    adminUrl = embedded.url;
    process.stderr.write(`tests use an embedded PostgreSQL in ${dataDir}\n`);
  }
  process.env.INDIGO_TEST_ADMIN_URL = adminUrl;
  project.provide('adminUrl', adminUrl);
}

export async function teardown(): Promise<void> {
  await embedded?.release();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}
