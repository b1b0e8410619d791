/**
 * The quorum commands' work for the service (electron/core/service.ts):
 * adding a quorum slot, re-sharing it, a custodian's paper share, and the
 * credential a custodian gives at unlock. The slot format and the collection
 * are in electron/core/vault/quorum.ts; the paper encoding in ./paper.ts.
 */

import QRCode from 'qrcode';
import type { CommandArgs, CommandOutput, KdfParams, KeyslotInfo } from '../../../shared/contract.js';
import { KeyholdError } from '../../../shared/errors.js';
import { requireStrongPassphrase } from '../../../shared/strength.js';
import { wipe } from '../crypto/primitives.js';
import { keyslotKey } from '../token/keyslot.js';
import type { PinPlan, TokenManager } from '../token/token.js';
import { calibrateKdf } from '../vault/kdf.js';
import type { KeyslotRow } from '../vault/keyslots.js';
import { makeQuorumSlot, parseQuorumParams, readShare, unsealShare, type NewCustodian, type QuorumParams } from '../vault/quorum.js';
import type { Vault } from '../vault/vault.js';
import { shareToWords, wordsToShare } from './paper.js';

export type QuorumContext = Readonly<{
  /** The service's token manager (modules load on first use). */
  tokens: () => TokenManager;
  /** The PIN plan of one command (KeyholdService #pins): the PIN given, else the service's. */
  pins: (pin: string | undefined) => PinPlan;
}>;

type CustodianInput = CommandArgs<'slot.addQuorum'>['custodians'][number];

function bytesOf(passphrase: string): Buffer {
  // NFC, as every passphrase slot (vault.ts bytesFromPassphrase).
  return Buffer.from(passphrase.normalize('NFC'), 'utf8');
}

/**
 * The custodians' credentials ready for makeQuorumSlot: each new passphrase
 * strength-checked, each token logged in (its PIN for that token only) and
 * its keyslot key found or generated. All before anything is written.
 */
async function prepareCustodians(ctx: QuorumContext, list: readonly CustodianInput[], kdf: KdfParams | undefined, title: string):
  Promise<NewCustodian[]> {
  for (const c of list) {
    if ('passphrase' in c) await requireStrongPassphrase(c.passphrase, title, `custodian ${c.name}'s passphrase`);
  }
  const params = list.some((c) => 'passphrase' in c) ? (kdf ?? (await calibrateKdf())) : undefined;
  const out: NewCustodian[] = [];
  try {
    for (const c of list) {
      if ('passphrase' in c) {
        out.push({ name: c.name, kind: 'passphrase', passphrase: bytesOf(c.passphrase), kdf: params as KdfParams });
        continue;
      }
      const token = ctx.tokens().token(c.token);
      const pins = ctx.pins(c.pin);
      pins.bind([token.description], c.token);
      await token.login({ askPin: pins.provider, why: `hold custodian ${c.name}'s quorum share`, allowFinalTry: c.allowFinalTry });
      out.push({ name: c.name, kind: 'token', token, key: await keyslotKey(token, c.keyLabel) });
    }
    return out;
  } catch (e) {
    wipeCustodians(out);
    throw e;
  }
}

function wipeCustodians(list: readonly NewCustodian[]): void {
  for (const c of list) if (c.kind === 'passphrase') wipe(c.passphrase);
}

export async function addQuorumSlot(vault: Vault, ctx: QuorumContext, a: CommandArgs<'slot.addQuorum'>): Promise<KeyslotInfo> {
  if (a.m > a.custodians.length) {
    throw new KeyholdError('INVALID_INPUT', `slot add-quorum: m (${a.m}) is more than the ${a.custodians.length} custodians`,
      'Give m from 2 to the number of custodians.');
  }
  const custodians = await prepareCustodians(ctx, a.custodians, a.kdf, 'slot add-quorum');
  try {
    const label = a.label || `quorum ${a.m} of ${custodians.length}`;
    return await vault.addSlotWith((vmk, vaultId, slotId) => makeQuorumSlot(vaultId, slotId, vmk, a.m, custodians, label));
  } finally {
    wipeCustodians(custodians);
  }
}

/** A quorum slot's row and params (the vault's slots checked first: checksum and MAC). */
function quorumRow(vault: Vault, id: number): { row: KeyslotRow; params: QuorumParams } {
  vault.listKeyslots();
  const row = vault.read((db) => db.prepare('SELECT * FROM keyslots WHERE id = ?').get(id) as KeyslotRow | undefined);
  if (!row) throw new KeyholdError('KEYSLOT_NOT_FOUND', `vault: no keyslot ${id}`, 'See `keyhold slot list`.');
  const params = row.type === 'quorum' ? parseQuorumParams(row.params) : null;
  if (!params) {
    throw new KeyholdError('KEYSLOT_NOT_FOUND', `vault: keyslot ${id} is not a quorum keyslot`, 'See `keyhold slot list`.');
  }
  return { row, params };
}

/**
 * A new split for a quorum slot: a new K and shares in a new slot, the old
 * slot removed in the same transaction (Vault.addSlotWith with `replaces`):
 * every old share stops working, paper copies included.
 */
export async function reshareSlot(vault: Vault, ctx: QuorumContext, a: CommandArgs<'slot.reshare'>): Promise<CommandOutput<'slot.reshare'>> {
  const { row, params } = quorumRow(vault, a.slot);
  const m = a.m ?? params.m;
  if (m > a.custodians.length) {
    throw new KeyholdError('INVALID_INPUT', `slot reshare: m (${m}) is more than the ${a.custodians.length} custodians`,
      'Give m from 2 to the number of custodians (--m).');
  }
  const custodians = await prepareCustodians(ctx, a.custodians, a.kdf, 'slot reshare');
  try {
    const label = a.label ?? (row.label === `quorum ${params.m} of ${params.n}` ? `quorum ${m} of ${custodians.length}` : row.label);
    const slot = await vault.addSlotWith((vmk, vaultId, slotId) => makeQuorumSlot(vaultId, slotId, vmk, m, custodians, label), row.id);
    return { removed: row.id, slot };
  } finally {
    wipeCustodians(custodians);
  }
}

type ShareInput = Readonly<{ passphrase?: string | undefined; words?: string | undefined; pin?: string | undefined;
  allowFinalTry?: boolean | undefined }>;

/**
 * How one custodian's share is unsealed from what they gave: paper words
 * (any custodian), their passphrase, or their token's PIN (or the CLI's
 * prompt, or its given PIN, bound to that token only).
 */
export function shareFrom(ctx: QuorumContext, a: ShareInput):
  (vaultId: string, slotId: number, p: QuorumParams, index: number) => Promise<Buffer> {
  return async (vaultId, slotId, p, index) => {
    const c = p.custodians[index] as QuorumParams['custodians'][number];
    if (a.words !== undefined) return wordsToShare(a.words);
    if (c.kind === 'passphrase') {
      if (a.passphrase === undefined) {
        throw new KeyholdError('INVALID_INPUT', `quorum: custodian ${c.name} holds a passphrase share: give their passphrase or their paper share`);
      }
      const pass = bytesOf(a.passphrase);
      try {
        return await unsealShare(vaultId, slotId, p, index, { passphrase: pass });
      } finally {
        wipe(pass);
      }
    }
    if (a.passphrase !== undefined) {
      throw new KeyholdError('INVALID_INPUT', `quorum: custodian ${c.name} holds a token share: give the token's PIN or their paper share`);
    }
    return unsealShare(vaultId, slotId, p, index, { tokens: ctx.tokens(), pins: ctx.pins(a.pin), allowFinalTry: a.allowFinalTry });
  };
}

/**
 * A custodian's paper share: they unseal their own share (passphrase or
 * token PIN) and get it as words with a check word per line and a QR code
 * of the same text. Audited (share.paper), never with the words.
 */
export async function paperShare(vault: Vault, ctx: QuorumContext, a: CommandArgs<'share.paper'>): Promise<CommandOutput<'share.paper'>> {
  const { row, params } = quorumRow(vault, a.slot);
  const index = params.custodians.findIndex((c) => c.name === a.custodian);
  if (index < 0) {
    throw new KeyholdError('INVALID_INPUT', `share paper: keyslot ${row.id} has no custodian '${a.custodian}'`,
      `Its custodians: ${params.custodians.map((c) => c.name).join(', ')}.`);
  }
  const plain = await shareFrom(ctx, { passphrase: a.passphrase, pin: a.pin, allowFinalTry: a.allowFinalTry })(vault.id, row.id, params, index);
  try {
    const got = readShare(plain);
    if (!got || got.split !== params.split || got.index !== index) {
      throw new KeyholdError('INTEGRITY', `share paper: custodian ${a.custodian}'s share in keyslot ${row.id} is not of its split`,
        'The keyslot was altered outside Keyhold.');
    }
    wipe(got.share);
    const lines = shareToWords(plain);
    const text = lines.map((l, i) => `${i + 1}. ${l}`).join('\n');
    const qr = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    vault.transaction(() => vault.audit({ action: 'share.paper', subject: `keyslot:${row.id}`,
      details: { id: row.id, custodian: a.custodian, split: params.split } }));
    return { slot: row.id, custodian: a.custodian, lines, text, qr };
  } finally {
    wipe(plain);
  }
}

/** A paper share's QR code drawn with block characters, for a terminal (the CLI's `share paper`). */
export function terminalQr(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}
