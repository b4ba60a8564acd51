import { ValidationError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|min|m|h|d|w)?$/;

/** PostgreSQL's timeouts are int milliseconds. */
export const MAX_DURATION_MS = 2_147_483_647;

export interface DurationOptions {
  /**
   * Accept a bare number as milliseconds (and a number value): for flags mirroring PostgreSQL
   * settings such as `--statement-timeout 0`. Otherwise the unit is required: a bare `5` reads as
   * seconds to some people and milliseconds to others.
   */
  bareMilliseconds?: boolean;
  /** Refuse fractions (`1.5d`), for values stored in whole units. */
  wholeNumber?: boolean;
  /** Smallest accepted value in milliseconds (default 1; 0 for "off"). */
  min?: number;
  max?: number;
}

/**
 * The one duration syntax of every flag: `500ms`, `5s`, `2m` (or `2min`), `72h`, `7d`, `2w` →
 * milliseconds. `what` names the flag in the error, e.g. `--timeout`.
 */
export function parseDuration(input: string | number, what: string, options: DurationOptions = {}): number {
  const { bareMilliseconds = false, wholeNumber = false, min = 1, max = MAX_DURATION_MS } = options;
  let ms: number;
  if (typeof input === 'number' && bareMilliseconds) {
    ms = Math.round(input);
  } else {
    const match = DURATION.exec(String(input).trim());
    const unit = match?.[2] ?? (bareMilliseconds ? 'ms' : undefined);
    if (!match || !unit || (wholeNumber && match[1]!.includes('.'))) {
      throw new ValidationError(
        bareMilliseconds
          ? `${what} must be a duration such as 500ms, 5s or 2m (a bare number is milliseconds), got ${JSON.stringify(input)}`
          : `${what}: ${JSON.stringify(input)} is not a duration with a unit (use e.g. 500ms, 5s, 2m, 72h or 7d)`,
        { [what]: input },
      );
    }
    ms = Math.round(Number(match[1]) * UNIT_MS[unit as keyof typeof UNIT_MS]);
  }
  if (!Number.isFinite(ms) || ms < min || ms > max) {
    throw new ValidationError(`${what} must be between ${formatDuration(min)} and ${formatDuration(max)}, got ${JSON.stringify(input)}`, { [what]: input });
  }
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
