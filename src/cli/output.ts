import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';

/** NO_COLOR (https://no-color.org) wins over everything; otherwise colour only on a TTY. */
export function colorsFor(stream: NodeJS.WriteStream): ChalkInstance {
  const enabled = !('NO_COLOR' in process.env) && (Boolean(process.env.FORCE_COLOR) || Boolean(stream.isTTY));
  return new Chalk({ level: enabled ? 1 : 0 });
}

export const out = colorsFor(process.stdout);
export const err = colorsFor(process.stderr);

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One record as aligned `key  value` lines. */
export function renderRecord(pairs: [string, unknown][]): string {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${out.bold(key.padEnd(width))}  ${formatValue(value)}`).join('\n');
}

export function renderTable(head: string[], rows: unknown[][]): string {
  const table = new Table({
    head: head.map((title) => out.bold(title)),
    style: { head: [], border: [] },
    chars: { ...(process.stdout.isTTY ? {} : plainChars), ...noRowSeparators },
  });
  for (const row of rows) table.push(row.map(formatValue));
  return table.toString();
}

const noRowSeparators = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** Plain ASCII borders when output is piped, so logs and grep see no box-drawing characters. */
const plainChars = {
  top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
  bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
  left: '|', right: '|', middle: '|',
};
