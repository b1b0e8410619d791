/**
 * Shared checks for the token tests: independent verification of signatures
 * (node:crypto, jose, openssl), OpenSC's pkcs11-tool as a second client of the
 * same SoftHSM2 token, and expectations on Keyhold errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { KeyholdError, type ErrorCode } from '../../shared/errors.js';
import type { PublicJwk } from '../../electron/core/token/jwk.js';

export function keyOf(jwk: PublicJwk): KeyObject {
  return createPublicKey({ key: { ...jwk }, format: 'jwk' });
}

/** node:crypto verification: ES256 as raw r||s (ieee-p1363), Ed25519 over the message. */
export function verifiesWithNode(jwk: PublicJwk, message: Uint8Array, sig: Uint8Array): boolean {
  if (jwk.kty === 'EC') return nodeVerify('sha256', message, { key: keyOf(jwk), dsaEncoding: 'ieee-p1363' }, sig);
  return nodeVerify(null, message, keyOf(jwk), sig);
}

/** ECDSA r||s (64 bytes) to the DER ECDSA-Sig-Value openssl expects. */
export function rawToDer(raw: Uint8Array): Buffer {
  expect(raw.length).toBe(64);
  const int = (b: Buffer): Buffer => {
    let v = b;
    while (v.length > 1 && v[0] === 0 && (v[1] as number) < 0x80) v = v.subarray(1);
    if ((v[0] as number) >= 0x80) v = Buffer.concat([Buffer.of(0), v]);
    return Buffer.concat([Buffer.of(0x02, v.length), v]);
  };
  const buf = Buffer.from(raw);
  const body = Buffer.concat([int(buf.subarray(0, 32)), int(buf.subarray(32))]);
  return Buffer.concat([Buffer.of(0x30, body.length), body]);
}

/** Verifies with the openssl command line; true when it says "Verified OK" and exits 0. */
export function verifiesWithOpenssl(dir: string, jwk: PublicJwk, message: Uint8Array, sig: Uint8Array): boolean {
  const pub = path.join(dir, 'pub.pem');
  const msg = path.join(dir, 'msg.bin');
  const sigFile = path.join(dir, 'sig.bin');
  fs.writeFileSync(pub, keyOf(jwk).export({ type: 'spki', format: 'pem' }));
  fs.writeFileSync(msg, message);
  const args = jwk.kty === 'EC'
    ? (fs.writeFileSync(sigFile, rawToDer(sig)), ['dgst', '-sha256', '-verify', pub, '-signature', sigFile, msg])
    : (fs.writeFileSync(sigFile, sig), ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', msg, '-sigfile', sigFile]);
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return r.status === 0 && /Verified OK|Signature Verified Successfully/.test(r.stdout);
}

/**
 * Runs OpenSC's pkcs11-tool. Its arguments carry the PIN, so a failure reports
 * the exit status and stderr only, never the command line.
 */
export function pkcs11Tool(module: string, env: Readonly<Record<string, string>>, args: string[]): string {
  try {
    return execFileSync('pkcs11-tool', ['--module', module, ...args], {
      env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const x = e as { status?: number; stderr?: string };
    // eslint-disable-next-line preserve-caught-error -- the cause's message holds the command line, the PIN included
    throw new Error(`pkcs11-tool ${args.find((a) => a.startsWith('--') && !['--login', '--pin', '--token-label'].includes(a)) ?? ''} failed (exit ${String(x.status)}): ${x.stderr ?? ''}`);
  }
}

/** Awaits a rejection with a KeyholdError of one of these codes, and returns it. */
export async function rejectsWith(p: Promise<unknown>, codes: ErrorCode | readonly ErrorCode[]): Promise<KeyholdError> {
  const want = typeof codes === 'string' ? [codes] : codes;
  try {
    await p;
  } catch (e) {
    if (!(e instanceof KeyholdError)) throw new Error(`expected a KeyholdError (${want.join('|')}), got ${String(e)}`, { cause: e });
    expect(want).toContain(e.code);
    return e;
  }
  throw new Error(`expected a rejection with ${want.join('|')}, but it resolved`);
}

/** Calls a function expected to throw a KeyholdError of this code. */
export function throwsWith(fn: () => unknown, code: ErrorCode): KeyholdError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KeyholdError)) throw new Error(`expected a KeyholdError (${code}), got ${String(e)}`, { cause: e });
    expect(e.code).toBe(code);
    return e;
  }
  throw new Error(`expected ${code}, but nothing was thrown`);
}

/** The point inside a CKA_EC_POINT (a DER OCTET STRING, or the bare point). */
export function ecPointContent(v: Buffer): Buffer {
  if (v[0] === 0x04 && (v[1] === 0x41 || v[1] === 0x20) && v.length === (v[1] as number) + 2) return v.subarray(2);
  return v;
}
