import type * as prompts from '@inquirer/prompts';
import { ValidationError } from '../lib/errors.js';

/** Prompts only when a person is there: stdin and stdout are TTYs, CI is unset, --json is off. */
export function canPrompt(json: boolean): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI && !json);
}

export function missingValue(what: string, usage: string): ValidationError {
  return new ValidationError(`missing ${what}: ${usage} (prompts appear only on a terminal, without --json and CI)`);
}

// @inquirer/prompts takes ~70 ms to load: these load it when a prompt is about to show, so
// scripts, CI and --json runs of the commands that can prompt never pay for it.

export async function input(config: Parameters<typeof prompts.input>[0]): Promise<string> {
  return (await import('@inquirer/prompts')).input(config);
}

export async function select<Value>(config: Parameters<typeof prompts.select<Value>>[0]): Promise<Value> {
  return (await import('@inquirer/prompts')).select<Value>(config);
}

export async function search<Value>(config: Parameters<typeof prompts.search<Value>>[0]): Promise<Value> {
  return (await import('@inquirer/prompts')).search<Value>(config);
}
