/**
 * M-of-N must not collapse to one person (issue 15, P2): two keys on one
 * token are one card and one PIN. Signers on the same token serial count once
 * toward a threshold: `signer threshold` refuses a threshold above the number
 * of distinct tokens (THRESHOLD_UNREACHABLE), `signer add` warns, a trust
 * root counts distinct tokens, and a bundle carries one signature per token,
 * so that the importer (which counts keys) cannot be satisfied by one card.
 * Real SoftHSM2 tokens; beta is hidden from the slot list (as if pulled out)
 * by a PKCS#11 wrapper over the real module.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyholdService } from '../../electron/core/service.js';
import { keyhold } from '../cli/run.js';
import { loadTrustRoot, verifyBundle } from 'keyhold-format';
import { addRecipient, PASSPHRASE, pinProvider, readBundle, tokenKey, type Recipient } from '../bundle/helpers.js';
import type { SoftHsm } from '../helpers/softhsm.js';
import type { TmpDir } from '../helpers/tmp.js';
import { closeTokenVault, openTokenVault } from '../helpers/token-vault.js';
import { FaultInjector } from './fault-driver.js';
import { rejectsWith } from './helpers.js';

let hsm: SoftHsm;
let tmp: TmpDir;
const inj = new FaultInjector();
let svc: KeyholdService;
let vaultPath: string;
let r1: Recipient;
const kid: Record<'a1' | 'a2' | 'b1', string> = { a1: '', a2: '', b1: '' };
let n = 0;
const out = (): string => path.join(tmp.dir, `f${++n}.json`);

/** Runs fn with beta left out of the slot list, as if it were pulled out. */
async function withoutBeta<T>(fn: () => Promise<T>): Promise<T> {
  const betaSlot = svc.tokens.scan().find((t) => t.label === 'beta')?.slot;
  expect(betaSlot).toBeDefined();
  return inj.withoutSlot(betaSlot ?? '', fn);
}

beforeAll(async () => {
  ({ hsm, tmp, svc, vaultPath } = await openTokenVault({
    tokens: [{ label: 'alpha' }, { label: 'beta' }],
    tmpPrefix: 'keyhold-threshold-tokens-',
    passphrase: PASSPHRASE,
    service: (h) => ({ tokens: { module: h.module, driverFactory: inj.factory }, askPin: pinProvider() }),
  }));
  kid.a1 = (await tokenKey(svc, 'alpha', 'a1', 'ES256')).kid;
  kid.a2 = (await tokenKey(svc, 'alpha', 'a2', 'EdDSA')).kid;
  kid.b1 = (await tokenKey(svc, 'beta', 'b1', 'ES256')).kid;
  r1 = await addRecipient(svc, 'r1', { verifies: ['svc1'] });
  await svc.call('key.create', { name: 'one', service: 'svc1' });
}, 120_000);

afterAll(() => closeTokenVault({ svc, hsm, tmp }));

describe('signers on one token count once', () => {
  it('signer add warns when the token already holds a signer; a threshold above the number of distinct tokens is THRESHOLD_UNREACHABLE, saying why', async () => {
    expect((await svc.call('signer.add', { token: 'alpha', keyLabel: 'a1' })).warnings).toEqual([]);
    const second = await svc.call('signer.add', { token: 'alpha', keyLabel: 'a2' });
    expect(second.kid).toBe(kid.a2);
    expect(second.warnings).toHaveLength(1);
    expect(second.warnings[0]).toContain(kid.a1);
    expect(second.warnings[0]).toContain('count once');
    // Two signers, one token: a threshold of 2 would need one card and one PIN.
    const e = await rejectsWith(svc.call('signer.threshold', { threshold: 2 }), 'THRESHOLD_UNREACHABLE');
    expect(e.message).toContain('1 token');
    expect(e.hint).toContain('same token');
    expect((await svc.call('signer.list', {})).threshold).toBe(1);

    expect((await svc.call('signer.add', { token: 'beta', keyLabel: 'b1' })).warnings).toEqual([]);
    await rejectsWith(svc.call('signer.threshold', { threshold: 3 }), 'THRESHOLD_UNREACHABLE');
    expect(await svc.call('signer.threshold', { threshold: 2 })).toEqual({ threshold: 2, signers: 3 });
  });

  it('a trust root at threshold 2 with only alpha present (two of its keys) is refused: one token is one signer', async () => {
    const file = out();
    const e = await withoutBeta(() => rejectsWith(svc.call('trust.export', { out: file }), 'TOKEN_NOT_FOUND'));
    expect(e.message).toContain('1 of the 2');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a bundle carries one signature per token: alpha alone gives one (refused by the importer at threshold 2), alpha\'s second key cannot add another, beta can', async () => {
    const root = await svc.call('trust.export', { out: out() });
    expect([...root.signatures].sort()).toEqual([kid.a1, kid.a2, kid.b1].sort());
    const trust = await loadTrustRoot(fs.readFileSync(root.path, 'utf8'));

    const file = out();
    const rep = await withoutBeta(() => svc.call('bundle.export', { recipient: 'r1', out: file }));
    expect(rep.signatures).toHaveLength(1);
    expect([kid.a1, kid.a2]).toContain(rep.signatures[0]);
    await expect(verifyBundle(fs.readFileSync(file, 'utf8'), trust, { recipient: r1.recipientId })).rejects.toMatchObject({ code: 'BUNDLE_THRESHOLD' });

    // alpha's other key is not a second signer: nothing to add while beta is absent.
    const before = fs.readFileSync(file, 'utf8');
    await withoutBeta(() => rejectsWith(svc.call('bundle.sign', { file }), ['ALREADY_SIGNED', 'TOKEN_NOT_FOUND']));
    await withoutBeta(() => rejectsWith(svc.call('bundle.sign', { file, token: 'alpha' }), 'ALREADY_SIGNED'));
    // Without a vault, naming alpha's other key: refused too (the token has signed).
    const bare = new KeyholdService({ tokens: { module: hsm.module }, askPin: pinProvider() });
    try {
      const other = rep.signatures[0] === kid.a1 ? 'a2' : 'a1';
      const e = await rejectsWith(bare.call('bundle.sign', { file, token: 'alpha', keyLabel: other }), 'ALREADY_SIGNED');
      expect(e.hint).toContain('another token');
    } finally {
      await bare.shutdown();
      await svc.tokens.logoutAll();
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    const s = await svc.call('bundle.sign', { file });
    expect(s.kid).toBe(kid.b1);
    const v = await verifyBundle(fs.readFileSync(file, 'utf8'), trust, { recipient: r1.recipientId });
    expect([...v.signers].sort()).toEqual([rep.signatures[0]!, kid.b1].sort());

    // Both tokens present: two signatures, one per token, never alpha's two keys.
    await svc.call('key.create', { name: 'two', service: 'svc1' });
    const both = await svc.call('bundle.export', { recipient: 'r1', out: out() });
    expect(both.signatures).toHaveLength(2);
    expect(both.signatures).toContain(kid.b1);
    expect(readBundle(both.path).headers.map((h) => h.kid).sort()).toEqual([...both.signatures].sort());
  });

  it('CLI: signer add prints the warning in its text output and in --json warnings', async () => {
    await tokenKey(svc, 'alpha', 'a3', 'ES256');
    await tokenKey(svc, 'alpha', 'a4', 'ES256');
    await svc.call('vault.lock', {});
    try {
      const env = hsm.cliEnv({ KEYHOLD_VAULT: vaultPath, KEYHOLD_PASSPHRASE: PASSPHRASE });
      const text = keyhold(['signer', 'add', '--token', 'alpha', '--key', 'a3'], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/^Registered signer .*\nwarning: the token 'alpha' \(serial [0-9a-f]+\) already holds signer .*count once toward the threshold/m);
      const json = keyhold(['--json', 'signer', 'add', '--token', 'alpha', '--key', 'a4'], env);
      expect(json.code, json.stderr).toBe(0);
      expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings).toEqual([expect.stringContaining('count once') as unknown]);
    } finally {
      await svc.call('vault.unlock', { path: vaultPath, passphrase: PASSPHRASE });
    }
  });
});
