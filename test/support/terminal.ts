import { spawn } from 'node:child_process';
import { binRun, cliEnv } from './cli.js';

/** A step types text, or waits until new output matches a pattern (never a fixed delay). */
export type TerminalStep = string | RegExp;

/**
 * The CLI at a real pseudo-terminal, as an operator uses it: `script` allocates the terminal
 * (160 columns, so wide tables and progress lines do not wrap), CI is unset so prompts appear,
 * and each RegExp step waits for output that appeared since the previous wait.
 */
export function atTerminal(
  args: string[],
  steps: TerminalStep[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = `stty cols 160 rows 60; ${[process.execPath, binRun, ...args].map((part) => `'${part}'`).join(' ')}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv({ CI: undefined, ...env }) });
    let screen = '';
    let closed = false;
    const plain = () => screen.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    child.stdout.on('data', (chunk) => { screen += chunk; });
    child.on('error', reject);
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
        while (!closed && !step.test(plain().slice(seen))) await new Promise((r) => setTimeout(r, 25));
        if (closed) return;
        seen = plain().length;
      }
    })().catch(reject);
  });
}
