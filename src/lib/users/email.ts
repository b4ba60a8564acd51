import { ValidationError } from '../errors.js';

/**
 * Trimmed, with the domain part lowercased (the local part is case-sensitive in theory; uniqueness
 * is enforced case-insensitively by the `lower(email)` index anyway).
 */
export function normalizeEmail(input: string): string {
  const email = input.trim();
  const at = email.lastIndexOf('@');
  if (email.length > 254 || at < 1 || at === email.length - 1 || /\s/.test(email)) {
    throw new ValidationError(`invalid email ${JSON.stringify(input)}: expected name@domain.tld`);
  }
  const local = email.slice(0, at);
  const domain = email.slice(at + 1).toLowerCase();
  if (local.length > 64 || local.includes('@') || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) || domain.split('.').some((label) => !label || label.startsWith('-') || label.endsWith('-'))) {
    throw new ValidationError(`invalid email ${JSON.stringify(input)}: expected name@domain.tld`);
  }
  return `${local}@${domain}`;
}
