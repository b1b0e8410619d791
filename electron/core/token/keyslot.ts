/**
 * The token keyslot: the VMK wrapped so that only the token can unwrap it.
 *
 * Method `ecdh-p256`: the token holds a P-256 key pair allowed to derive
 * (never to sign: one key, one purpose). To wrap, Keyhold makes an ephemeral
 * P-256 key pair in Node, computes Z = ECDH(ephemeral, token public key),
 * derives KEK = HKDF-SHA256(Z, salt = "keyhold/v1/token-slot", info = vault id,
 * slot id, ephemeral point, token public point) and seals the VMK under it
 * (AES-256-GCM, AAD binding vault id, slot id, type and params). To unwrap,
 * the token computes the same Z with its private key (C_DeriveKey, ECDH1) from
 * the ephemeral point stored in the slot's params. ECDH is what PIV cards,
 * YubiKeys and HSMs all offer (RSA-OAEP is SHA-1 only on SoftHSM2, and cards
 * rarely expose AES key wrap), so one method covers them all.
 *
 * Before a slot is written, the token proves it can unwrap (one ECDH on the
 * card after login): a slot that could never open is never stored.
 */

import { createECDH } from 'node:crypto';
import { KeyholdError } from '../../../shared/errors.js';
import { equalBytes, hkdf, seal, tryOpen, wipe } from '../crypto/primitives.js';
import { canonicalParams, wrapAad, type KeyslotRow, type NewKeyslot, type SlotOpener } from '../vault/keyslots.js';
import { jwkThumbprint, p256Point, type PublicJwk } from './jwk.js';
import type { PinPlan, Token, TokenKey, TokenManager } from './token.js';

export const TOKEN_SLOT_METHOD = 'ecdh-p256';

export type TokenSlotParams = Readonly<{
  method: typeof TOKEN_SLOT_METHOD;
  token: string;
  serial: string;
  manufacturer: string;
  model: string;
  keyLabel: string;
  /** CKA_ID of the token key, hex. */
  keyId: string;
  /** RFC 7638 thumbprint of the token's public key. */
  kid: string;
  /** The ephemeral public point, base64url (uncompressed). */
  epk: string;
}>;

function kek(z: Buffer, vaultId: string, slotId: number, epk: Buffer, recipient: Buffer): Buffer {
  return hkdf(z, 'keyhold/v1/token-slot',
    JSON.stringify([vaultId, slotId, epk.toString('base64url'), recipient.toString('base64url')]));
}

export function parseTokenSlotParams(params: string): TokenSlotParams | null {
  try {
    const p = JSON.parse(params) as Partial<TokenSlotParams>;
    const strings = [p.token, p.serial, p.manufacturer, p.model, p.keyLabel, p.keyId, p.kid, p.epk];
    if (p.method !== TOKEN_SLOT_METHOD || strings.some((s) => typeof s !== 'string')) return null;
    if (!/^[0-9a-f]*$/.test(p.keyId as string)) return null;
    if (Buffer.from(p.epk as string, 'base64url').length !== 65) return null;
    return p as TokenSlotParams;
  } catch {
    return null;
  }
}

/**
 * The token key for a keyslot: an existing P-256 key that may derive, or a
 * new one generated with that label. A signing key is refused (key separation).
 */
export async function keyslotKey(token: Token, keyLabel: string): Promise<TokenKey & { jwk: PublicJwk }> {
  const existing = (await token.listKeys()).filter((k) => k.label === keyLabel);
  const key = existing.length === 0 ? await token.generateKey(keyLabel, 'ES256', 'derive') : await token.findKey({ label: keyLabel });
  // Key separation: a key that may also sign (pkcs11-tool's default, say) is refused.
  if (key.keyType !== 'EC-P256' || !key.canDerive || key.canSign || !key.jwk) {
    throw new KeyholdError('TOKEN_UNSUPPORTED',
      `token: the key '${keyLabel}' on ${token.name} cannot unlock a vault (it must be a P-256 key allowed to derive and not to sign, with its public key on the token)`,
      'Name a new label: Keyhold then generates a key pair for the keyslot on the token.');
  }
  return key as TokenKey & { jwk: PublicJwk };
}

/**
 * Makes a token slot for Vault.addSlotWith. The caller has logged in to the
 * token (the proof below runs on the card).
 */
export async function makeTokenSlot(token: Token, key: TokenKey & { jwk: PublicJwk }, vmk: Buffer, vaultId: string,
  slotId: number, label: string): Promise<NewKeyslot> {
  const recipient = p256Point(key.jwk);
  const eph = createECDH('prime256v1');
  const epk = eph.generateKeys();
  const z = eph.computeSecret(recipient);
  const onCard = await token.deriveEcdh({ id: key.id }, epk);
  try {
    if (!equalBytes(z, onCard)) {
      throw new KeyholdError('TOKEN_ERROR', `token: the key '${key.label}' on ${token.name} did not agree on a shared secret`,
        'The token did not unwrap as expected; the keyslot was not added.');
    }
    const d = token.description;
    const params = canonicalParams({
      method: TOKEN_SLOT_METHOD, token: d.label, serial: d.serial, manufacturer: d.manufacturer, model: d.model,
      keyLabel: key.label, keyId: key.id, kid: jwkThumbprint(key.jwk), epk: epk.toString('base64url'),
    } satisfies TokenSlotParams);
    const k = kek(z, vaultId, slotId, epk, recipient);
    try {
      return { type: 'token', label, params, wrapped: seal(k, vmk, wrapAad(vaultId, slotId, 'token', params)) };
    } finally {
      wipe(k);
    }
  } finally {
    wipe(z, onCard);
  }
}

export type TokenOpenerOptions = Readonly<{
  pins: PinPlan;
  allowFinalTry?: boolean | undefined;
  /** Only slots of the token with this label or serial. */
  token?: string | undefined;
}>;

export type TokenOpener = SlotOpener & Readonly<{
  /**
   * After an unlock that failed: whether it must run again because a PIN
   * given without a prompt could not be bound to a token on the first pass
   * (several tokens present, none named). The keyslots seen decide: their one
   * token present gets the PIN, and the unlock runs again; with several,
   * TOKEN_AMBIGUOUS is thrown here, before any login.
   */
  again: () => boolean;
}>;

/**
 * Opens token slots with the tokens present: each slot's token is found by
 * serial, logged in (one PIN per token), and asked for the ECDH. Slots whose
 * token is absent are skipped; if nothing opened, the error names them.
 *
 * A PIN given without a prompt goes only to the token it is bound to (PinPlan):
 * the one `token` names, or the only token present, or else the only token
 * present that one of the vault's token keyslots names. For the last case the
 * keyslots are all looked at first, without any login (a first pass), and the
 * unlock runs again (`again`).
 */
export function tokenOpener(manager: TokenManager, opts: TokenOpenerOptions): TokenOpener {
  const absent: string[] = [];
  let keyMissing: KeyholdError | null = null;
  let matched = 0;
  let opened = false;
  /** Tokens present that keyslots name, seen while the given PIN was not bound yet (the first pass). */
  const surveyed = new Map<string, Token>();
  return {
    type: 'token',
    paramsValid: (row: KeyslotRow) => parseTokenSlotParams(row.params) !== null,
    open: async (vaultId: string, row: KeyslotRow) => {
      const p = parseTokenSlotParams(row.params) as TokenSlotParams;
      if (opts.token !== undefined && opts.token !== p.token && opts.token !== p.serial) return null;
      matched++;
      // Once a slot has opened, no other token is asked for its PIN.
      if (opened) return null;
      const token = manager.bySerial(p.serial);
      if (!token) {
        absent.push(`keyslot ${row.id}: '${p.token}' (serial ${p.serial})`);
        return null;
      }
      if (opts.pins.unbound) {
        const present = manager.lastScan.filter((d) => !d.empty && (opts.token === undefined || d.label === opts.token || d.serial === opts.token));
        if (opts.token !== undefined || present.length <= 1) {
          opts.pins.bind(present.length > 0 ? present : [token.description], opts.token, '--unlock-token');
        } else {
          // Several tokens present: which of them the keyslots name is known only after all of them.
          surveyed.set(token.description.serial, token);
          return null;
        }
      }
      await token.login({ askPin: opts.pins.provider, why: `unlock the vault (keyslot ${row.id})`, allowFinalTry: opts.allowFinalTry });
      let key: TokenKey;
      try {
        key = await token.findKey({ id: p.keyId });
      } catch (e) {
        if (e instanceof KeyholdError && e.code === 'TOKEN_KEY_NOT_FOUND') {
          keyMissing = new KeyholdError('TOKEN_KEY_NOT_FOUND',
            `vault: the key '${p.keyLabel}' of keyslot ${row.id} is no longer on ${token.name}`,
            'Unlock with another keyslot (see `keyhold slot list`).');
          return null;
        }
        throw e;
      }
      if (!key.jwk || jwkThumbprint(key.jwk) !== p.kid) {
        keyMissing = new KeyholdError('INTEGRITY', `vault: keyslot ${row.id} names a different key than the one on ${token.name}`,
          'The token key was replaced or the keyslot was altered. Unlock with another keyslot.');
        return null;
      }
      const epk = Buffer.from(p.epk, 'base64url');
      const z = await token.deriveEcdh({ id: p.keyId }, epk);
      const k = kek(z, vaultId, row.id, epk, p256Point(key.jwk));
      try {
        const vmk = tryOpen(k, row.wrapped, wrapAad(vaultId, row.id, row.type, row.params));
        opened = vmk !== null;
        return vmk;
      } finally {
        wipe(k, z);
      }
    },
    refused: () => {
      if (matched === 0) {
        return new KeyholdError('KEYSLOT_NOT_FOUND', `vault: no token keyslot belongs to token '${opts.token ?? ''}'`,
          'See `keyhold slot list` for the tokens of its keyslots.');
      }
      if (keyMissing) return keyMissing;
      if (absent.length > 0) {
        return new KeyholdError('TOKEN_NOT_FOUND', `vault: no token of the vault's token keyslots is present (${absent.join('; ')})`,
          'Insert the token (check --module), or unlock with another keyslot.');
      }
      return new KeyholdError('INTEGRITY', 'vault: the token did not open its keyslot',
        'The keyslot or the token key was altered. Unlock with another keyslot.');
    },
    noSlot: () => new KeyholdError('KEYSLOT_NOT_FOUND', 'vault: this vault has no token keyslot',
      opts.token !== undefined ? `No keyslot belongs to token '${opts.token}'.` : 'Add one with `keyhold slot add-token`.'),
    dispose: () => undefined,
    again: () => {
      if (surveyed.size === 0 || opened) return false;
      opts.pins.bind([...surveyed.values()].map((t) => t.description), undefined, '--unlock-token');
      surveyed.clear();
      absent.length = 0;
      keyMissing = null;
      matched = 0;
      return true;
    },
  };
}
