import { ValidationError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * `500ms`, `5s`, `2m`, `72h`, `7d` → milliseconds, a whole number ≥ 1. The unit is required: a bare
 * `5` reads as seconds to some people and milliseconds to others. `what` names the flag, e.g. `--timeout`.
 */
export function parseDuration(input: string, what: string): number {
  const match = DURATION.exec(String(input).trim().toLowerCase());
  if (!match) {
    throw new ValidationError(`${what}: ${JSON.stringify(input)} is not a duration with a unit (use e.g. 500ms, 5s, 2m, 72h or 7d)`, { [what]: input });
  }
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  if (ms < 1) throw new ValidationError(`${what}: the duration must be at least 1 ms`, { [what]: input });
  return ms;
}

/** Refuses anything but a whole number of milliseconds ≥ `min`, naming the option. */
export function checkMilliseconds(value: number, what: string, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ValidationError(`${what} must be a whole number of milliseconds ≥ ${min} (got ${value})`, { [what]: value });
  }
  return value;
}

/** `90000` → `1m 30s`: for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, seconds] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  return parts.join(' ');
}
