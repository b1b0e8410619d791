/**
 * The error codes are one list (shared/errors.ts `ERRORS`: code, exit code,
 * meaning). docs/cli.md carries the same list twice (4.1, the meaning of each
 * code; 4.2, each code's exit family), and the docs quote codes with their
 * exit codes elsewhere; all of these must agree with the list. Every code in
 * the list is raised somewhere (none kept "just in case"), and
 * `Result.error.code` is the ErrorCode union, so a misspelt code in the
 * renderer or a test fails the typecheck.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Result } from '../../shared/contract.js';
import { ERROR_CODES, ERRORS, exitCodeFor, isErrorCode, KeyholdError, toErrorInfo, type ErrorCode } from '../../shared/errors.js';
import { ROOT } from '../cli/run.js';

const CODE_RE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : []);
}

function cliDoc(): string {
  return fs.readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8');
}

function section(doc: string, from: string, to: string): string {
  const a = doc.indexOf(from);
  const b = doc.indexOf(to, a + from.length);
  expect(a, from).toBeGreaterThanOrEqual(0);
  expect(b, to).toBeGreaterThan(a);
  return doc.slice(a, b);
}

/** The backticked words of a markdown table cell that look like error codes. */
function codesIn(cell: string): string[] {
  return [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string).filter((w) => CODE_RE.test(w));
}

describe('ERRORS, the one list of error codes', () => {
  it('gives every code an exit code of its family and a one-line meaning', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(40);
    for (const code of ERROR_CODES) {
      expect([2, 3, 4, 5, 6, 7, 8, 70], code).toContain(exitCodeFor(code));
      expect(ERRORS[code].meaning, code).toMatch(/^[a-z][^\n]{5,120}$/);
    }
    expect(isErrorCode('KEY_NOT_FOUND')).toBe(true);
    expect(isErrorCode('NO_SUCH_CODE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('has a code of its own for each failure that reused another\'s (bundle, recipient and signer failures reused key, keyslot and vault codes)', () => {
    const own: ErrorCode[] = ['RECIPIENT_NOT_FOUND', 'RECIPIENT_EXISTS', 'NO_SIGNERS', 'SIGNER_NOT_FOUND', 'SIGNER_EXISTS',
      'ALREADY_SIGNED', 'NOTHING_EXPORTED', 'BUNDLE_NOT_FOUND', 'BUNDLE_INVALID', 'FILE_UNREADABLE', 'TOKEN_KEY_AMBIGUOUS', 'NOTHING_TO_RECOVER'];
    for (const c of own) expect(ERROR_CODES, c).toContain(c);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('is exactly the code table of docs/cli.md 4.1, each code once', () => {
    const table = section(cliDoc(), '| code | meaning |', '### 4.3');
    const rows = [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
    expect(rows.length).toBe(new Set(rows).size);
    expect([...rows].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('puts each code in the exit family docs/cli.md 4.2 lists it under, and only there', () => {
    const table = section(cliDoc(), '### 4.2 Exit codes', '| code | meaning |');
    const seen = new Map<string, number>();
    for (const m of table.matchAll(/^\| (\d+) \| ([^|]*) \| ([^|]*) \|$/gm)) {
      const exit = Number(m[1]);
      for (const code of new Set(codesIn(m[3] as string))) {
        expect(seen.has(code), `${code} listed twice`).toBe(false);
        seen.set(code, exit);
      }
    }
    const want = new Map(ERROR_CODES.map((c) => [c, exitCodeFor(c)] as const));
    expect(Object.fromEntries([...seen].sort())).toEqual(Object.fromEntries([...want].sort()));
  });

  it('agrees with every place the docs quote a code with its exit code', () => {
    // `CODE` (exit N), (`CODE`, exit N), | `CODE`, N |, | `CODE` | N |, `CODE` (N)
    const quote = /`([A-Z][A-Z0-9_]+)`(?:,\s*(?:exit\s+)?| \(exit\s+| \| | \()(\d+)(?![.\d])/g;
    const wrong: string[] = [];
    let checked = 0;
    for (const doc of ['cli.md', 'tokens.md', 'lifecycle.md', 'vault-format.md', 'audit-log.md', 'threat-model.md']) {
      const text = fs.readFileSync(path.join(ROOT, 'docs', doc), 'utf8');
      for (const m of text.matchAll(quote)) {
        const [code, exit] = [m[1] as string, Number(m[2])];
        if (!CODE_RE.test(code) || /^(CKR|CKA|CKM|SQLITE)_/.test(code)) continue;
        checked++;
        if (!isErrorCode(code)) wrong.push(`${doc}: ${code} is not an error code`);
        else if (exitCodeFor(code) !== exit) wrong.push(`${doc}: ${code} exits ${exitCodeFor(code)}, not ${exit}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(wrong).toEqual([]);
  });

  it('has every code raised somewhere in electron/ or shared/', () => {
    const text = [...sources(path.join(ROOT, 'electron')), ...sources(path.join(ROOT, 'shared'))]
      .filter((f) => path.basename(f) !== 'errors.ts' || !f.includes(`${path.sep}shared${path.sep}`))
      .map((f) => fs.readFileSync(f, 'utf8'))
      .join('\n');
    const unused = ERROR_CODES.filter((c) => !text.includes(`'${c}'`));
    expect(unused).toEqual([]);
  });

  it('types Result.error.code as the union: an envelope carries one of the codes', () => {
    const r: Result<never> = { ok: false, error: toErrorInfo(new KeyholdError('NO_SIGNERS', 'bundle: no signer is registered')) };
    const code: ErrorCode | null = r.ok ? null : r.error.code;
    expect(code).toBe('NO_SIGNERS');
    if (!r.ok) {
      // @ts-expect-error a misspelt code is no ErrorCode: the comparison does not typecheck
      expect(r.error.code === 'NO_SIGNER').toBe(false);
    }
  });
});
