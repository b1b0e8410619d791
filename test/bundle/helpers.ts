/**
 * Shared pieces of the bundle export tests: a vault with token signers on
 * SoftHSM2, recipients made with the real importer's keygen, reading a
 * bundle file's payload, and a digest of the vault's rows to show that a
 * failed export changed nothing.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { expect } from 'vitest';
import type { KeyholdService } from '../../electron/core/service.js';
import type { PublicJwk } from '../../electron/core/token/jwk.js';
import type { PinProvider } from '../../electron/core/token/token.js';
import {
  generateRecipientKey,
  type BundlePayload,
  type RecipientCurve,
  type RecipientKeyPair,
} from 'keyhold-format';

export const PIN = '123456';
export const PASSPHRASE = 'bundle test passphrase';

/** A PIN provider that always answers the test token PIN, and counts how often it was asked. */
export function pinProvider(pin = PIN): PinProvider & { calls: number } {
  const f = Object.assign(async () => {
    f.calls++;
    return Promise.resolve(pin);
  }, { calls: 0 });
  return f;
}

/** Generates a signing key on a token; returns its kid and public JWK as the token gives them. */
export async function tokenKey(svc: KeyholdService, token: string, label: string, alg: 'ES256' | 'EdDSA'): Promise<{ kid: string; jwk: PublicJwk }> {
  const k = await svc.call('token.keygen', { token, label, alg, pin: PIN });
  if (!k.kid || !k.jwk) throw new Error('token keygen gave no public key');
  return { kid: k.kid, jwk: k.jwk as PublicJwk };
}

/** Generates a signing key on a token and registers it as a signer; returns its kid. */
export async function addTokenSigner(svc: KeyholdService, token: string, label: string, alg: 'ES256' | 'EdDSA'): Promise<string> {
  const { kid } = await tokenKey(svc, token, label, alg);
  const s = await svc.call('signer.add', { token, keyLabel: label });
  expect(s).toMatchObject({ alg, kid });
  return s.kid;
}

export type Recipient = RecipientKeyPair & Readonly<{ name: string }>;

/** A recipient key pair from the importer's keygen, registered in the vault. */
export async function addRecipient(svc: KeyholdService, name: string, opts: { verifies?: string[]; holds?: string[]; crv?: RecipientCurve }): Promise<Recipient> {
  const pair = await generateRecipientKey(opts.crv ?? 'X25519');
  const info = await svc.call('recipient.add', { name, publicKey: pair.publicJwk, verifies: opts.verifies ?? [], holds: opts.holds ?? [] });
  expect(info.id).toBe(pair.recipientId);
  expect(info.sequence).toBe(0);
  return { ...pair, name };
}

export type BundleFile = Readonly<{
  text: string;
  json: { payload: string; signatures: { protected: string; signature: string }[] };
  payloadBytes: Buffer;
  payload: BundlePayload;
  headers: { alg: string; kid: string; typ: string }[];
}>;

export function readBundle(file: string): BundleFile {
  const text = fs.readFileSync(file, 'utf8');
  const json = JSON.parse(text) as BundleFile['json'];
  const payloadBytes = Buffer.from(json.payload, 'base64url');
  return {
    text, json, payloadBytes,
    payload: JSON.parse(payloadBytes.toString('utf8')) as BundlePayload,
    headers: json.signatures.map((s) => JSON.parse(Buffer.from(s.protected, 'base64url').toString('utf8')) as { alg: string; kid: string; typ: string }),
  };
}

/** A digest of every row of every table of a vault file (read-only; the vault may be open in WAL mode). */
export function vaultDigest(p: string): string {
  const db = new Database(p, { readonly: true, fileMustExist: true });
  try {
    const h = createHash('sha256');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    for (const { name } of tables) {
      h.update(JSON.stringify([name, db.prepare(`SELECT * FROM "${name}"`).raw().all()],
        (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
    }
    return h.digest('hex');
  } finally {
    db.close();
  }
}

/** Files in a folder (hidden ones too), sorted. */
export function filesIn(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/**
 * What a failed command must not have changed: the recipients' sequences and
 * last hashes, the audit head, and every row of the file (read with the vault
 * locked: it holds SQLite's exclusive lock while open; unlocked again after).
 */
export async function snapshot(svc: KeyholdService, vaultPath: string): Promise<{ digest: string; recipients: unknown; head: unknown }> {
  const recipients = (await svc.call('recipient.list', {})).map((r) => ({ name: r.name, sequence: r.sequence, lastHash: r.lastHash }));
  const head = (await svc.call('audit.verify', {})).head;
  svc.close();
  const digest = vaultDigest(vaultPath);
  await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
  return { digest, recipients, head };
}

/** Runs raw SQL on a vault file while it is locked (an edit made outside Keyhold). */
export function rawSql(vaultPath: string, fn: (db: Database.Database) => void): void {
  const db = new Database(vaultPath, { fileMustExist: true });
  try {
    fn(db);
  } finally {
    db.close();
  }
}
