/**
 * The audit actions are one list (shared/audit-actions.ts, re-exported by electron/core/audit/actions.ts): every
 * action the core writes is in it, and it is exactly the table of
 * docs/audit-log.md section 2. `audit list --action` checks against it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS, checkAuditAction } from '../../electron/core/audit/actions.js';
import { KeyholdError } from '../../shared/errors.js';
import { ROOT } from '../cli/run.js';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

describe('AUDIT_ACTIONS', () => {
  it('holds every action the core and the app write', () => {
    const written = new Set<string>();
    for (const f of [...sources(path.join(ROOT, 'electron')), ...sources(path.join(ROOT, 'shared'))]) {
      const text = fs.readFileSync(f, 'utf8');
      // vault.audit({ action: 'key.create', ... }) and action: clear ? 'policy.clear' : 'policy.set'
      for (const m of text.matchAll(/\baction: ([^,\n]+)/g)) {
        for (const q of (m[1] as string).matchAll(/'([a-z]+\.[a-zA-Z]+)'/g)) written.add(q[1] as string);
      }
    }
    expect(written.size).toBeGreaterThan(15);
    expect([...written].filter((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a))).toEqual([]);
  });

  it('is the table of docs/audit-log.md section 2', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'audit-log.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## 2. Actions'), doc.indexOf('## 3.'));
    const documented = [...section.matchAll(/^\| `([a-z]+\.[a-zA-Z]+)` \|/gm)].map((m) => m[1]);
    expect([...documented].sort()).toEqual([...AUDIT_ACTIONS].sort());
  });

  it('an unknown action is INVALID_INPUT listing the known ones', () => {
    expect(checkAuditAction('key.reveal')).toBe('key.reveal');
    try {
      checkAuditAction('key.reveel');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KeyholdError);
      expect((e as KeyholdError).code).toBe('INVALID_INPUT');
      expect((e as KeyholdError).hint).toContain(AUDIT_ACTIONS.join(', '));
    }
  });
});
