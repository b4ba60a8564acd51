import { expect } from 'vitest';
import { catalogSnapshot } from '../support/catalog.js';
import { runCli, type CliResult } from '../support/cli.js';
import { atTerminal as atTerminalWith, type TerminalStep } from '../support/terminal.js';
import type { TestNetwork } from '../support/network.js';

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

  const atTerminal = (args: string[], steps: TerminalStep[]) =>
    atTerminalWith(args, steps, { DATABASE_URL: network.url, REDIS_URL: undefined });

  return { cli, expectRefused, atTerminal };
}
