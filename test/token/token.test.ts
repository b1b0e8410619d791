/**
 * The token layer on real SoftHSM2 tokens (made afresh in a temporary folder):
 * listing, key generation on the token, signatures that independent verifiers
 * accept, interop with OpenSC's pkcs11-tool, PIN handling, and the errors for
 * a missing or broken module, an absent token and a token deleted mid-operation.
 */
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { openModule } from '../../electron/core/token/module.js';
import { CKK_EC_EDWARDS } from '../../electron/core/token/pkcs11.js';
import { TokenManager, type PinProvider, type TokenKey } from '../../electron/core/token/token.js';
import { setupSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { FAST_KDF, makeTmpDir, type TmpDir } from '../helpers/tmp.js';
import { ecPointContent, pkcs11Tool, rawToDer, rejectsWith, throwsWith, verifiesWithNode, verifiesWithOpenssl } from './helpers.js';

const PIN = '123456';
const BETA_PIN = '654321';
const GAMMA_PIN = '246810';
const PASSPHRASE = 'token test passphrase';

let hsm: SoftHsm;
let tmp: TmpDir;
let mgr: TokenManager;

const pin = (p: string): PinProvider => vi.fn(() => Promise.resolve(p));

beforeAll(() => {
  // Before any module is opened in this process: SoftHSM2 reads SOFTHSM2_CONF at C_Initialize.
  hsm = setupSoftHsm([{ label: 'alpha' }, { label: 'beta', pin: BETA_PIN }, { label: 'gamma', pin: GAMMA_PIN }]);
  tmp = makeTmpDir('keyhold-token-');
  mgr = new TokenManager({ module: hsm.module });
});

afterAll(async () => {
  await mgr?.close();
  hsm?.cleanup();
  tmp?.remove();
});

/** Reads attributes of the private key with this CKA_ID through pkcs11js directly, on a session of our own. */
function rawPrivate(slot: Buffer, idHex: string, read: (p: pkcs11js.PKCS11, s: Buffer, h: Buffer) => void): void {
  const p = mgr.modules()[0]!.driver as pkcs11js.PKCS11;
  const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  try {
    p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_ID, value: Buffer.from(idHex, 'hex') }]);
    const [h] = p.C_FindObjects(s, 2);
    p.C_FindObjectsFinal(s);
    expect(h).toBeDefined();
    read(p, s, h!);
  } finally {
    p.C_CloseSession(s);
  }
}

describe('token list (SoftHSM2)', () => {
  it('lists each token with label, manufacturer, model, serial, flags and the mechanisms that matter; the free slot is listed uninitialised and never selected', () => {
    const tokens = mgr.scan();
    const alpha = tokens.find((t) => t.label === 'alpha');
    expect(alpha).toMatchObject({
      module: hsm.module,
      manufacturer: 'SoftHSM project',
      model: 'SoftHSM v2',
      serial: hsm.serial('alpha'),
      flags: { initialized: true, loginRequired: true, userPinInitialized: true, protectedAuthenticationPath: false, writeProtected: false },
      pin: { countLow: false, finalTry: false, locked: false, toBeChanged: false },
    });
    expect(alpha!.mechanisms).toEqual(expect.arrayContaining(['ECDSA', 'EC-KEYGEN', 'ECDH', 'EdDSA', 'Ed25519-KEYGEN']));
    expect(tokens.filter((t) => t.flags.initialized).map((t) => t.label).sort()).toEqual(['alpha', 'beta', 'gamma']);
    const free = tokens.filter((t) => !t.flags.initialized);
    expect(free).toHaveLength(1);
    expect(free[0]!.label).toBe('');
    // Selection by label or serial; the blank token is not a candidate, three initialised ones are ambiguous.
    expect(mgr.token('beta').description.serial).toBe(hsm.serial('beta'));
    expect(mgr.token(hsm.serial('alpha')).description.label).toBe('alpha');
    expect(throwsWith(() => mgr.token(), 'TOKEN_AMBIGUOUS').message).toContain('several tokens');
  });

  it('a token label that is not present is TOKEN_NOT_FOUND naming it, with the tokens present in the hint', () => {
    const e = throwsWith(() => mgr.token('no-such-token'), 'TOKEN_NOT_FOUND');
    expect(e.message).toContain("'no-such-token'");
    expect(e.hint).toContain("'alpha'");
  });
});

describe('keys generated on the token', () => {
  const generated = new Map<string, TokenKey>();

  beforeAll(async () => {
    const t = mgr.token('alpha');
    await t.login({ askPin: pin(PIN), why: 'test' });
    generated.set('ES256', await t.generateKey('sig-es256', 'ES256'));
    generated.set('EdDSA', await t.generateKey('sig-ed25519', 'EdDSA'));
  });

  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: the private key is sensitive and never extractable, and reading CKA_VALUE is CKR_ATTRIBUTE_SENSITIVE`, () => {
      const key = generated.get(alg)!;
      expect(key).toMatchObject({ alg, keyType: alg === 'ES256' ? 'EC-P256' : 'Ed25519', canSign: true, canDerive: false, hasPrivateKey: true, hasPublicKey: true });
      expect(key.id).toMatch(/^[0-9a-f]{32}$/);
      rawPrivate(mgr.token('alpha').slot, key.id, (p, s, h) => {
        const [sensitive, extractable, alwaysSensitive, neverExtractable, keyType] = p.C_GetAttributeValue(s, h, [
          { type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
          { type: pkcs11js.CKA_NEVER_EXTRACTABLE }, { type: pkcs11js.CKA_KEY_TYPE }]);
        expect(sensitive!.value[0]).toBe(1);
        expect(extractable!.value[0]).toBe(0);
        expect(alwaysSensitive!.value[0]).toBe(1);
        expect(neverExtractable!.value[0]).toBe(1);
        expect(keyType!.value.readUInt32LE(0)).toBe(alg === 'ES256' ? pkcs11js.CKK_EC : CKK_EC_EDWARDS);
        let code: number | null = null;
        try {
          p.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_VALUE }]);
        } catch (e) {
          code = e instanceof pkcs11js.Pkcs11Error ? e.code : -1;
        }
        expect(code).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      });
    });

    it(`${alg}: the JWK matches the token's CKA_EC_POINT and its kid is the RFC 7638 thumbprint (jose computes the same)`, async () => {
      const key = generated.get(alg)!;
      const jwk = key.jwk!;
      expect(await calculateJwkThumbprint({ ...jwk }, 'sha256')).toBe(key.kid);
      // And by hand: SHA-256 of the required members, lexicographic, no spaces.
      const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
      expect(createHash('sha256').update(JSON.stringify(members)).digest('base64url')).toBe(key.kid);
      const p = mgr.modules()[0]!.driver as pkcs11js.PKCS11;
      const s = p.C_OpenSession(mgr.token('alpha').slot, pkcs11js.CKF_SERIAL_SESSION);
      try {
        p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_ID, value: Buffer.from(key.id, 'hex') }]);
        const [h] = p.C_FindObjects(s, 2);
        p.C_FindObjectsFinal(s);
        const point = ecPointContent(p.C_GetAttributeValue(s, h!, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value);
        if (jwk.kty === 'EC') {
          expect(point[0]).toBe(0x04);
          expect(Buffer.from(jwk.x, 'base64url').equals(point.subarray(1, 33))).toBe(true);
          expect(Buffer.from(jwk.y, 'base64url').equals(point.subarray(33, 65))).toBe(true);
        } else {
          expect(Buffer.from(jwk.x, 'base64url').equals(point)).toBe(true);
        }
      } finally {
        p.C_CloseSession(s);
      }
    });

    it(`${alg}: a signature made on the token verifies with node:crypto, jose (as a compact JWS) and openssl from the exported JWK`, async () => {
      const key = generated.get(alg)!;
      const t = mgr.token('alpha');
      const message = Buffer.from(`keyhold ${alg} test message ${'x'.repeat(100)}`);
      const sig = await t.sign({ id: key.id }, message);
      expect(sig.length).toBe(64);
      expect(verifiesWithNode(key.jwk!, message, sig)).toBe(true);
      expect(verifiesWithNode(key.jwk!, Buffer.concat([message, Buffer.of(0)]), sig)).toBe(false);
      expect(verifiesWithOpenssl(tmp.dir, key.jwk!, message, sig)).toBe(true);
      expect(verifiesWithOpenssl(tmp.dir, key.jwk!, Buffer.from('another message'), sig)).toBe(false);
      // JOSE-ready: the signature is the JWS signature as it stands.
      const signingInput = `${Buffer.from(JSON.stringify({ alg, kid: key.kid })).toString('base64url')}.${Buffer.from('{"hello":"token"}').toString('base64url')}`;
      const jwsSig = await t.sign({ label: key.label }, Buffer.from(signingInput));
      const verified = await compactVerify(`${signingInput}.${jwsSig.toString('base64url')}`, await importJWK({ ...key.jwk! }, alg));
      expect(Buffer.from(verified.payload).toString()).toBe('{"hello":"token"}');
      expect(verified.protectedHeader.kid).toBe(key.kid);
    });
  }

  it('key generation refuses a label already on the token', async () => {
    await rejectsWith(mgr.token('alpha').generateKey('sig-es256', 'ES256'), 'TOKEN_KEY_EXISTS');
  });
});

describe('interop with OpenSC pkcs11-tool (an independent client of the same token)', () => {
  const login = ['--token-label', 'alpha', '--login', '--pin', PIN];

  it('a P-256 key that pkcs11-tool generated is found by label and by CKA_ID and signs in Keyhold; node:crypto verifies', async () => {
    pkcs11Tool(hsm.module, hsm.env, [...login, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'tool-p256', '--id', '0102']);
    const t = mgr.token('alpha');
    const byLabel = await t.findKey({ label: 'tool-p256' });
    const byId = await t.findKey({ id: '0102' });
    expect(byLabel).toEqual(byId);
    expect(byId).toMatchObject({ id: '0102', keyType: 'EC-P256', alg: 'ES256', hasPrivateKey: true, canSign: true });
    const message = Buffer.from('signed in Keyhold with a key pkcs11-tool made');
    expect(verifiesWithNode(byId.jwk!, message, await t.sign({ id: '0102' }, message))).toBe(true);
    expect(verifiesWithNode(byId.jwk!, message, await t.sign({ label: 'tool-p256' }, message))).toBe(true);
  });

  it('two keys pkcs11-tool labelled alike: the label is TOKEN_KEY_AMBIGUOUS (exit 2; it was TOKEN_KEY_EXISTS, the keygen code) listing both ids, and each is found by its id', async () => {
    for (const id of ['0201', '0202']) {
      pkcs11Tool(hsm.module, hsm.env, [...login, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twin', '--id', id]);
    }
    const t = mgr.token('alpha');
    const e = await rejectsWith(t.findKey({ label: 'twin' }), 'TOKEN_KEY_AMBIGUOUS');
    expect(e.message).toBe(`token: several keys with label 'twin' on ${t.name}`);
    expect(e.hint).toBe('Name the key by its id instead: 0201, 0202.');
    expect((await t.findKey({ id: '0202' })).label).toBe('twin');
  });

  it('an Ed25519 key that pkcs11-tool generated (EC_PARAMS as the printable "edwards25519") is found and signs in Keyhold', async () => {
    pkcs11Tool(hsm.module, hsm.env, [...login, '--keypairgen', '--key-type', 'EC:edwards25519', '--label', 'tool-ed25519', '--id', '0103']);
    const t = mgr.token('alpha');
    const key = await t.findKey({ id: '0103' });
    expect(key).toMatchObject({ label: 'tool-ed25519', keyType: 'Ed25519', alg: 'EdDSA', hasPrivateKey: true });
    const message = Buffer.from('Ed25519 from pkcs11-tool');
    expect(verifiesWithNode(key.jwk!, message, await t.sign({ label: 'tool-ed25519' }, message))).toBe(true);
  });

  it('a key Keyhold generated is listed by pkcs11-tool --list-objects, and its pkcs11-tool ECDSA signature over a SHA-256 digest verifies against Keyhold\'s JWK', async () => {
    const t = mgr.token('alpha');
    const key = await t.generateKey('for-pkcs11-tool', 'ES256');
    const listed = pkcs11Tool(hsm.module, hsm.env, [...login, '--list-objects']);
    expect(listed).toContain('label:      for-pkcs11-tool');
    expect(listed).toContain(`ID:         ${key.id}`);
    const message = Buffer.from('signed by pkcs11-tool with a key Keyhold made');
    // pkcs11-tool -m ECDSA signs only the first 32 bytes of its input: give it exactly the digest.
    const digest = path.join(tmp.dir, 'digest.bin');
    const sigFile = path.join(tmp.dir, 'tool-sig.bin');
    fs.writeFileSync(digest, createHash('sha256').update(message).digest());
    pkcs11Tool(hsm.module, hsm.env, [...login, '--sign', '-m', 'ECDSA', '--id', key.id, '-i', digest, '-o', sigFile]);
    const sig = fs.readFileSync(sigFile);
    expect(sig.length).toBe(64);
    expect(verifiesWithNode(key.jwk!, message, sig)).toBe(true);
    expect(verifiesWithOpenssl(tmp.dir, key.jwk!, message, sig)).toBe(true);
    expect(rawToDer(sig)[0]).toBe(0x30);
  });
});

describe('login', () => {
  it('a wrong PIN is TOKEN_PIN_INCORRECT with the remaining-tries state, one ask, nothing changed; the flags read before the next login show it', async () => {
    const t = mgr.token('beta');
    const before = await t.listKeys();
    const wrong = vi.fn<PinProvider>(() => Promise.resolve('000000'));
    const e = await rejectsWith(t.login({ askPin: wrong, why: 'test' }), 'TOKEN_PIN_INCORRECT');
    expect(wrong).toHaveBeenCalledTimes(1);
    // SoftHSM2 sets count-low after a wrong PIN (it never locks).
    expect(e.message).toContain("wrong PIN for 'beta'");
    expect(e.message).toContain('the token reports a low number of tries left');
    expect(e.message.includes('000000'), 'the PIN tried is not in the message').toBe(false);
    expect(e.message.includes(BETA_PIN), 'the PIN is not in the message').toBe(false);
    expect(t.loggedIn).toBe(false);
    expect(await t.listKeys()).toEqual(before);
    expect(t.description.pin?.countLow).toBe(true);

    // The next login reads the flags first: the PIN prompt is told the count is low.
    const right = vi.fn<PinProvider>(() => Promise.resolve(BETA_PIN));
    const flags = await t.login({ askPin: right, why: 'test' });
    expect(right).toHaveBeenCalledTimes(1);
    expect(right.mock.calls[0]![0].token.pin?.countLow).toBe(true);
    expect(right.mock.calls[0]![0].why).toBe('test');
    expect(t.loggedIn).toBe(true);
    expect(flags.locked).toBe(false);
    // Already logged in: no PIN is asked again.
    const again = vi.fn<PinProvider>(() => Promise.resolve(BETA_PIN));
    await t.login({ askPin: again, why: 'test' });
    expect(again).not.toHaveBeenCalled();
  });
});

describe('module and token errors', () => {
  it('a missing module is TOKEN_MODULE naming the path', () => {
    const missing = path.join(tmp.dir, 'no-such-module.so');
    const e = throwsWith(() => new TokenManager({ module: missing }).scan(), 'TOKEN_MODULE');
    expect(e.message).toContain(missing);
    expect(throwsWith(() => openModule(missing), 'TOKEN_MODULE').message).toContain(missing);
  });

  it('a broken module (a text file named x.so) is TOKEN_MODULE naming the path', () => {
    const broken = path.join(tmp.dir, 'x.so');
    fs.writeFileSync(broken, 'this is not a shared library\n');
    const e = throwsWith(() => new TokenManager({ module: broken }).scan(), 'TOKEN_MODULE');
    expect(e.message).toContain(broken);
    expect(e.message).toContain('not a PKCS#11 module');
  });

  it('a library that is not a PKCS#11 module (libc) is TOKEN_MODULE naming the path', () => {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib64/libc.so.6'].find((p) => fs.existsSync(p));
    expect(libc).toBeDefined();
    const e = throwsWith(() => new TokenManager({ module: libc! }).scan(), 'TOKEN_MODULE');
    expect(e.message).toContain(libc!);
  });

  it('a token deleted with softhsm2-util in the middle of slot.addToken (between reading its PIN flags and C_Login) is a clear error, and the vault is unchanged', async () => {
    const vaultPath = path.join(tmp.dir, 'deleted.db');
    let asked = 0;
    const svc = new KeyholdService({
      tokens: { module: hsm.module },
      askPin: () => {
        asked++;
        hsm.deleteToken('gamma');
        return Promise.resolve(GAMMA_PIN);
      },
    });
    try {
      await svc.call('vault.create', { path: vaultPath, passphrase: PASSPHRASE, kdf: FAST_KDF });
      const slots = await svc.call('slot.list', {});
      const audit = await svc.call('audit.list', {});
      const e = await rejectsWith(svc.call('slot.addToken', { token: 'gamma', keyLabel: 'ks' }), ['TOKEN_REMOVED', 'TOKEN_NOT_FOUND']);
      expect(asked).toBe(1);
      expect(e.message).toContain("'gamma'");
      expect(await svc.call('slot.list', {})).toEqual(slots);
      expect(await svc.call('audit.list', {})).toEqual(audit);
      expect((await svc.call('audit.verify', {})).ok).toBe(true);
      // The other tokens are still listed and usable; the deleted one is absent.
      const labels = mgr.scan().filter((d) => d.flags.initialized).map((d) => d.label);
      expect(labels).toEqual(expect.arrayContaining(['alpha', 'beta']));
      expect(labels).not.toContain('gamma');
      expect(throwsWith(() => mgr.token('gamma'), 'TOKEN_NOT_FOUND').message).toContain("'gamma'");
      await expect(mgr.token('alpha').listKeys()).resolves.toBeInstanceOf(Array);
    } finally {
      await svc.shutdown();
    }
  });
});
