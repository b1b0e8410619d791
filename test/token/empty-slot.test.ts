/**
 * `token list` and an uninitialised token (SoftHSM2's free slot, a blank
 * card): an empty slot, with no label, serial or PIN state of its own
 * (issue 15). It used to show a blank label and PIN "ok".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenInfo } from '../../shared/contract.js';
import { keyhold } from '../cli/run.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

let hsm: SoftHsm;

beforeAll(() => {
  hsm = setupSoftHsm([{ label: 'card' }]);
});

afterAll(() => {
  hsm?.cleanup();
});

describe('token list: an uninitialised token is an empty slot', () => {
  it('JSON: empty true and pin null for the free slot; empty false and PIN flags for the token', () => {
    const r = keyhold(['--json', 'token', 'list'], hsm.cliEnv());
    expect(r.code, r.stderr).toBe(0);
    const list = (JSON.parse(r.stdout) as { tokens: TokenInfo[] }).tokens;
    const free = list.filter((t) => !t.flags.initialized);
    expect(free).toHaveLength(1);
    expect(free[0]).toMatchObject({ empty: true, pin: null, label: '' });
    const card = list.find((t) => t.label === 'card');
    expect(card).toMatchObject({ empty: false, pin: { countLow: false, finalTry: false, locked: false, toBeChanged: false } });
  });

  it('text: the free slot is shown as "(empty slot)" with no serial and no PIN state', () => {
    const r = keyhold(['token', 'list'], hsm.cliEnv());
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^LABEL\s+SERIAL\s+MANUFACTURER\s+MODEL\s+PIN\s+MECHANISMS$/);
    const pinCol = lines[0]!.indexOf('PIN');
    const empty = lines.filter((l) => l.startsWith('(empty slot)'));
    expect(empty).toHaveLength(1);
    expect(empty[0]!.slice(pinCol).split(/\s+/)[0]).toBe('-');
    const card = lines.find((l) => l.startsWith('card '));
    expect(card!.slice(pinCol).split(/\s+/)[0]).toBe('ok');
    // Every row names a token or says it is an empty slot: none has a blank label.
    expect(lines.slice(1).every((l) => !l.startsWith(' '))).toBe(true);
  });
});
