import { ValidationError } from '../lib/errors.js';

/** Prompts only when a person is there: stdin and stdout are TTYs, CI is unset, --json is off. */
export function canPrompt(json: boolean): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI && !json);
}

export function missingValue(what: string, usage: string): ValidationError {
  return new ValidationError(`missing ${what}: ${usage} (prompts appear only on a terminal, without --json and CI)`);
}
