import { ValidationError } from './errors.js';

/**
 * Free text an operator types (a site name, a user name, a reason), trimmed: refused when empty
 * (with `whenEmpty` as the message), longer than `max` characters, or holding control characters,
 * which would garble tables and logs. `what` names it in the errors ("the site name").
 */
export function validateLabel(input: string, what: string, max: number, whenEmpty = `${what} is empty`): string {
  const trimmed = input.trim();
  if (!trimmed) throw new ValidationError(whenEmpty);
  if (trimmed.length > max) throw new ValidationError(`${what} is longer than ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new ValidationError(`${what} contains control characters`);
  return trimmed;
}

/** `1 row`, `2 rows`: counts read as sentences. */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
