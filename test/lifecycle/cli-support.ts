import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { catalogSnapshot } from '../support/catalog.js';
import { binRun, cliEnv, runCli, type CliResult } from '../support/cli.js';
import type { TestNetwork } from '../support/network.js';
import { waitUntil } from './fixtures.js';

/** The lifecycle commands end to end against one test network: `cli(args)` adds its URL and unsets REDIS_URL. */
export function cliFor(network: TestNetwork) {
  const cli = (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
    runCli([...args, '--database-url', network.url], { env: { REDIS_URL: undefined, ...env } });

  /** Runs `args` and checks it was refused with `code` and a message, leaving everything as it was. */
  async function expectRefused(args: string[], code: number, message: RegExp): Promise<CliResult> {
    const before = await catalogSnapshot(network.sql);
    const result = await cli(args);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await catalogSnapshot(network.sql)).toEqual(before);
    return result;
  }

  /** The CLI at a pseudo-terminal (`script`), typing each string once the screen shows the pattern before it. */
  function atTerminal(args: string[], steps: (string | RegExp)[]): Promise<{ code: number | null; screen: string }> {
    return new Promise((resolve, reject) => {
      const command = `stty cols 160 rows 60; ${[process.execPath, binRun, ...args].map((part) => `'${part}'`).join(' ')}`;
      const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv({ CI: undefined, DATABASE_URL: network.url, REDIS_URL: undefined }) });
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
          await waitUntil(`the terminal shows ${step}`, async () => closed || step.test(plain().slice(seen)));
          seen = plain().length;
        }
      })().catch(reject);
    });
  }

  return { cli, expectRefused, atTerminal };
}
