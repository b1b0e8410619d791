/**
 * Mutation fuzzing of a valid bundle's text (fast-check, fixed seed): every
 * mutation is refused with an ImportError, unless what the signatures cover
 * (the payload and each protected header and signature, all as exact
 * strings) is unchanged, for instance whitespace between JSON tokens; then
 * the result is exactly the original one.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { applyBundle, isImportError, verifyBundle, type VerifiedBundle } from '../../importer/src/index.js';
import { findDuplicateMember } from 'keyhold-format';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { fixture, makeBundle, NOW, snapshot, type Fixture, type MadeBundle } from './helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

type Mutation =
  | { kind: 'replace'; at: number; ch: string }
  | { kind: 'insert'; at: number; ch: string }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'duplicate'; at: number; len: number }
  | { kind: 'space'; at: number; ch: string };

// Characters that matter to JSON and to base64url, plus whitespace (the legitimate change).
const CHARS = ['A', 'B', 'z', '0', '9', '-', '_', '+', '/', '=', '.', '"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\n', '\t', '\r', 'é', '\u0000'];

/** Offsets just after a JSON structural character: whitespace there changes nothing signed. */
function boundaries(text: string): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') inString = !inString;
    else if (!inString && '{}[],:'.includes(c!)) out.push(i + 1);
  }
  return out;
}

function mutation(text: string): fc.Arbitrary<Mutation> {
  const len = text.length;
  const at = fc.integer({ min: 0, max: len - 1 });
  const ch = fc.constantFrom(...CHARS);
  return fc.oneof(
    fc.record({ kind: fc.constant('space' as const), at: fc.constantFrom(...boundaries(text)), ch: fc.constantFrom(' ', '\n', '\t', '\r', '"') }),
    fc.record({ kind: fc.constant('replace' as const), at, ch }),
    fc.record({ kind: fc.constant('insert' as const), at, ch }),
    fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 40 }) }),
  );
}

function apply(text: string, m: Mutation): string {
  switch (m.kind) {
    case 'replace':
      return text.slice(0, m.at) + m.ch + text.slice(m.at + 1);
    case 'insert':
    case 'space':
      return text.slice(0, m.at) + m.ch + text.slice(m.at);
    case 'delete':
      return text.slice(0, m.at) + text.slice(m.at + m.len);
    case 'duplicate':
      return text.slice(0, m.at + m.len) + text.slice(m.at, m.at + m.len) + text.slice(m.at + m.len);
  }
}

/**
 * True when the mutated text still parses to exactly the signed strings of the original (and nothing else).
 * A member name twice is never the same bundle (JSON.parse would keep the last; the format refuses it: DUPLICATE_MEMBER).
 */
function coversSame(original: string, mutated: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(mutated);
  } catch {
    return false;
  }
  if (findDuplicateMember(mutated)) return false;
  return JSON.stringify(doc) === JSON.stringify(JSON.parse(original));
}

let f: Fixture;
let b: MadeBundle;
let expected: VerifiedBundle;
let tmp: TmpDir;
let root: string;

beforeAll(async () => {
  f = await fixture();
  b = await makeBundle(f);
  expected = await verifyBundle(b.text, f.trust, { now: NOW, recipient: f.recipient.recipientId });
  tmp = makeTmpDir('kh-import-');
  root = tmp.dir;
});
afterAll(() => tmp.remove());

describe('fuzz: mutations of a valid bundle', () => {
  it(`verify: ${RUNS} mutations, each refused or (when nothing signed changed) identical`, async () => {
    let same = 0;
    let refusedCount = 0;
    // A pretty-printed copy gives whitespace between tokens for mutations to land in.
    const base = JSON.stringify(JSON.parse(b.text), null, 2);
    await fc.assert(
      fc.asyncProperty(mutation(base), async (m) => {
        const text = apply(base, m);
        let result: VerifiedBundle | undefined;
        let error: unknown;
        try {
          result = await verifyBundle(text, f.trust, { now: NOW, recipient: f.recipient.recipientId });
        } catch (e) {
          error = e;
        }
        if (coversSame(b.text, text)) {
          same++;
          expect(error).toBeUndefined();
          expect(result!.hash).toBe(expected.hash);
          expect(result!.signers).toEqual(expected.signers);
          expect(result!.payload).toEqual(expected.payload);
        } else {
          refusedCount++;
          expect(result).toBeUndefined();
          expect(isImportError(error)).toBe(true);
          const code = (error as { code: string }).code;
          expect(code).not.toBe('INTERNAL');
          expect(String((error as Error).message)).not.toContain('khk_');
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Both branches must have been exercised for the property to mean anything.
    expect(same).toBeGreaterThan(RUNS / 20);
    expect(refusedCount).toBeGreaterThan(RUNS / 2);
  });

  it('apply: mutations leave the state directory unchanged unless they are the same bundle (then a no-op)', async () => {
    const dir = join(root, 'state');
    await applyBundle(dir, b.text, { now: NOW, trustRootText: f.trustText, privateKey: f.recipient.privateJwk });
    const before = snapshot(dir);
    const next = await makeBundle(f, { sequence: 2, previous: b.hash });
    const base = JSON.stringify(JSON.parse(next.text), null, 1);
    await fc.assert(
      fc.asyncProperty(mutation(base), async (m) => {
        const text = apply(base, m);
        if (coversSame(next.text, text)) return; // would apply bundle 2; covered by the verify property above
        await expect(applyBundle(dir, text, { now: NOW, privateKey: f.recipient.privateJwk })).rejects.toSatisfy(isImportError);
        expect(snapshot(dir)).toEqual(before);
      }),
      { seed: SEED, numRuns: Math.max(50, Math.floor(RUNS / 15)) },
    );
  });
});
