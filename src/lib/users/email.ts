import { ValidationError } from '../errors.js';

export type EmailCheck = { ok: true; email: string } | { ok: false; rule: string };

const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/**
 * The normalised email or the first rule it breaks. Pure, so a prompt can validate as the
 * operator types. Trimmed, with the domain part lowercased (the local part is case-sensitive in
 * theory; uniqueness is enforced case-insensitively by the `lower(email)` index anyway).
 */
export function checkEmail(input: string): EmailCheck {
  const email = input.trim();
  const at = email.lastIndexOf('@');
  if (!email) return { ok: false, rule: 'the email is empty' };
  if (email.length > 254) return { ok: false, rule: 'the email is longer than 254 characters' };
  if (/[\s\u0000-\u001f\u007f]/.test(email)) return { ok: false, rule: 'the email contains spaces or control characters' };
  if (at < 1 || at === email.length - 1) return { ok: false, rule: 'expected name@domain.tld' };
  const local = email.slice(0, at);
  const domain = email.slice(at + 1).toLowerCase();
  if (local.length > 64) return { ok: false, rule: 'the part before @ is longer than 64 characters' };
  if (local.includes('@')) return { ok: false, rule: 'the email contains more than one @' };
  if (!DOMAIN.test(domain) || domain.split('.').some((label) => label.startsWith('-') || label.endsWith('-'))) {
    return { ok: false, rule: 'the domain after @ must be a hostname such as example.com (letters, digits, hyphens and dots)' };
  }
  return { ok: true, email: `${local}@${domain}` };
}

export function normalizeEmail(input: string): string {
  const check = checkEmail(input);
  if (!check.ok) throw new ValidationError(`invalid email ${JSON.stringify(input)}: ${check.rule}`, { email: input, rule: check.rule });
  return check.email;
}
