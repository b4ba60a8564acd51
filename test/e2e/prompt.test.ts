import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atTerminal } from '../support/terminal.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { runCli } from '../support/cli.js';

/**
 * An operator at a terminal: `script` gives the CLI a real pseudo-terminal, and keystrokes are
 * typed into it with pauses, as a person would.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  expect((await runCli(['init', '--database-url', db.url])).code).toBe(0);
});
afterAll(async () => {
  await db?.drop();
});

describe('site:create at a terminal', () => {
  it('prompts for the slug with live validation and the name defaulting from the slug', async () => {
    const { code, screen } = await atTerminal(['site:create'], [/\? Slug/, 'Bad_Slug', /Bad_Slug/, '\r', /lowercase/, '\x7f'.repeat(8), 'pty-made', /pty-made/, '\r', /Name \(Pty Made\)/, '\r'], { DATABASE_URL: db.url });
    expect(screen).toMatch(/the slug must be lowercase/);
    expect(screen).toMatch(/Name \(Pty Made\)/);
    expect(screen).toMatch(/Created site pty-made/);
    expect(code).toBe(0);
    const [site] = await db.sql`select name from sites where slug = 'pty-made'`;
    expect(site.name).toBe('Pty Made');
  }, 30_000);

  it('Ctrl-C at the prompt exits 130 and creates nothing', async () => {
    const { code, screen } = await atTerminal(['site:create'], [/\? Slug/, 'abc', /abc/, '\x03'], { DATABASE_URL: db.url });
    expect(screen).toMatch(/cancelled/);
    expect(code).toBe(130);
    expect(await db.sql`select 1 from sites where slug = 'abc'`).toHaveLength(0);
  }, 30_000);
});
