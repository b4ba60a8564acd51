import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binRun, cliEnv } from '../support/cli.js';
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

/** A step types text, or waits until the screen shows a pattern (never a fixed delay for the CLI to start). */
type Step = string | RegExp;

function atTerminal(args: string[], steps: Step[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, binRun, ...args].map((part) => `'${part}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv({ CI: undefined, DATABASE_URL: db.url }) });
    let screen = '';
    const plain = () => screen.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    child.stdout.on('data', (chunk) => { screen += chunk; });
    child.on('error', reject);
    let closed = false;
    child.on('close', (code) => {
      closed = true;
      resolve({ code, screen: plain() });
    });
    (async () => {
      let seen = 0;
      for (const step of steps) {
        if (typeof step === 'string') {
          child.stdin.write(step);
          continue;
        }
        // Look only at what appeared since the previous wait, so a pattern matches new output.
        while (!closed && !step.test(plain().slice(seen))) await new Promise((r) => setTimeout(r, 25));
        if (closed) return;
        seen = plain().length;
      }
    })();
  });
}

describe('site:create at a terminal', () => {
  it('prompts for the slug with live validation and the name defaulting from the slug', async () => {
    const { code, screen } = await atTerminal(['site:create'], [/\? Slug/, 'Bad_Slug', /Bad_Slug/, '\r', /lowercase/, '\x7f'.repeat(8), 'pty-made', /pty-made/, '\r', /Name \(Pty Made\)/, '\r']);
    expect(screen).toMatch(/the slug must be lowercase/);
    expect(screen).toMatch(/Name \(Pty Made\)/);
    expect(screen).toMatch(/Created site pty-made/);
    expect(code).toBe(0);
    const [site] = await db.sql`select name from sites where slug = 'pty-made'`;
    expect(site.name).toBe('Pty Made');
  }, 30_000);

  it('Ctrl-C at the prompt exits 130 and creates nothing', async () => {
    const { code, screen } = await atTerminal(['site:create'], [/\? Slug/, 'abc', /abc/, '\x03']);
    expect(screen).toMatch(/cancelled/);
    expect(code).toBe(130);
    expect(await db.sql`select 1 from sites where slug = 'abc'`).toHaveLength(0);
  }, 30_000);
});
