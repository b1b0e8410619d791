/**
 * Fixtures for the importer tests: software signers (the PKCS#11 signer comes
 * from the app), a trust root, recipient keys and bundles built with the
 * importer's own export-side helpers, exactly as the app will build them.
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildPayload,
  buildTrustRoot,
  encryptSecrets,
  generateRecipientKey,
  loadTrustRoot,
  signBundle,
  signTrustRoot,
  softwareSigner,
  verifierOf,
  type BundleInput,
  type Change,
  type IssueChange,
  type RecipientKeyPair,
  type Signer,
  type TrustRoot,
} from '../../importer/src/index.js';

export const VAULT_ID = '3d1219c7c4c5404aaa1f6d2a48adfda4';
export const NOW = new Date('2026-11-27T12:00:00Z');
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function es256Signer(): Signer {
  return softwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}
export function ed25519Signer(): Signer {
  return softwareSigner(generateKeyPairSync('ed25519').privateKey);
}

function b62(n: number): string {
  let s = '';
  while (s.length < n) for (const b of randomBytes(n * 2)) if (b < 248 && s.length < n) s += B62[b % 62];
  return s;
}

/** A fresh, well-formed Keyhold key (checksum per docs/key-format.md, computed independently of the importer). */
export function makeApiKey(keyId = b62(16)): string {
  const body = `khk_${keyId}_${b62(43)}`;
  let c = 0xffffffff;
  for (let i = 0; i < body.length; i++) {
    c ^= body.charCodeAt(i);
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  let n = (c ^ 0xffffffff) >>> 0;
  let sum = '';
  for (let i = 0; i < 6; i++) {
    sum = B62[n % 62] + sum;
    n = Math.floor(n / 62);
  }
  return body + sum;
}

export type Fixture = {
  signers: Signer[];
  rootPayloadSigners: Signer[];
  trustText: string;
  trust: TrustRoot;
  recipient: RecipientKeyPair;
  other: RecipientKeyPair;
};

/** Three signers (ES256, ES256, EdDSA), threshold 2; a P-256 recipient and another one. */
export async function fixture(opts: { threshold?: number; curve?: 'P-256' | 'X25519' } = {}): Promise<Fixture> {
  const signers = [es256Signer(), es256Signer(), ed25519Signer()];
  const payload = buildTrustRoot({ vaultId: VAULT_ID, version: 1, threshold: opts.threshold ?? 2, signers: signers.map((s) => s.publicJwk), issuedAt: new Date('2026-01-01T00:00:00Z') });
  const trustText = await signTrustRoot(payload, signers);
  return {
    signers,
    rootPayloadSigners: signers,
    trustText,
    trust: await loadTrustRoot(trustText),
    recipient: await generateRecipientKey(opts.curve ?? 'P-256'),
    other: await generateRecipientKey('X25519'),
  };
}

export type Issued = { change: IssueChange; key: string };

export function issue(version = 1, keyId = b62(16), name = `key-${keyId.slice(0, 6)}`): Issued {
  const key = makeApiKey(keyId);
  return {
    key,
    change: {
      type: 'issue',
      keyId,
      version,
      name,
      service: 'billing',
      environment: 'production',
      scopes: ['read', 'write'],
      notBefore: '2026-11-01T00:00:00Z',
      notAfter: null,
      verifier: verifierOf(key),
    },
  };
}

export type MadeBundle = { text: string; hash: string; issued: Issued[] };

export async function makeBundle(
  f: Fixture,
  o: Partial<Omit<BundleInput, 'changes'>> & { issued?: Issued[]; revokes?: Change[]; signers?: Signer[]; withSecrets?: boolean; to?: RecipientKeyPair } = {},
): Promise<MadeBundle> {
  const to = o.to ?? f.recipient;
  const issued = o.issued ?? [issue(), issue()];
  const bundleId = o.bundleId ?? randomBytes(16).toString('base64url');
  const secrets =
    o.secrets ??
    (o.withSecrets === false || issued.length === 0
      ? undefined
      : await encryptSecrets(to.publicJwk, bundleId, issued.map((i) => ({ keyId: i.change.keyId, version: i.change.version, key: i.key }))));
  const payload = buildPayload({
    bundleId,
    vaultId: o.vaultId ?? VAULT_ID,
    recipient: o.recipient ?? to.recipientId,
    sequence: o.sequence ?? 1,
    previous: o.previous === undefined ? null : o.previous,
    issuedAt: o.issuedAt ?? new Date(NOW.getTime() - 3600_000),
    expiresAt: o.expiresAt ?? new Date(NOW.getTime() + 7 * 86400_000),
    changes: [...issued.map((i) => i.change), ...(o.revokes ?? [])],
    ...(secrets === undefined ? {} : { secrets }),
    ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
  });
  const text = await signBundle(payload, o.signers ?? f.signers.slice(0, 2));
  const { encodePayload } = await import('../../importer/src/index.js');
  return { text, hash: encodePayload(payload).hash, issued };
}


/** Every entry under a directory with its bytes (files) or target (symlinks): to compare before and after. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[`${r}/`] = `dir ${(st.mode & 0o777).toString(8)}`;
        walk(p, r);
      } else out[r] = `${(st.mode & 0o777).toString(8)} ${readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir, '');
  return out;
}
