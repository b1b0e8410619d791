/**
 * docs/bundle-format.md stays true: its worked example is exactly what the
 * code makes, verifies, and its stated validity window and hashes hold.
 */

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import { loadTrustRoot, verifyBundle, apiKeyId, IMPORT_ERROR_CODES } from '../../importer/src/index.js';
import { EXAMPLE_KEY, makeExample } from './example.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../docs/bundle-format.md'), 'utf8');

function block(name: string): string {
  const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\n([^\\n]*)\\n\`\`\``).exec(doc);
  expect(m, `example block ${name}`).not.toBeNull();
  return m![1]!;
}

describe('docs/bundle-format.md', () => {
  it('shows exactly the example the code makes', async () => {
    const e = await makeExample();
    expect(`${block('trust')}\n`).toBe(e.trust);
    expect(`${block('bundle')}\n`).toBe(e.bundle);
    expect(block('payload')).toBe(e.payload);
    for (const v of [e.payloadHash, e.recipient, e.signer, e.verifier]) expect(doc).toContain(v);
    expect(apiKeyId(EXAMPLE_KEY)).toBe('EXAMPLEkeyID0001');
  });

  it('the example verifies within the stated window and not outside it', async () => {
    const trust = await loadTrustRoot(block('trust'));
    const recipient = 'cu-DqB3hQR_-PaumpGVRb3Q5np9W9wmvoop1IYyCQPw';
    const v = await verifyBundle(block('bundle'), trust, { now: new Date('2026-11-27T11:55:00Z'), recipient });
    expect(v.hash).toBe('7aeaf40b70777e9637bcf39a2881f7f9c7ba16e7ca7f6327e9affaa87ed61579');
    await expect(verifyBundle(block('bundle'), trust, { now: new Date('2026-12-04T12:05:00Z'), recipient })).resolves.toBeTruthy();
    await expect(verifyBundle(block('bundle'), trust, { now: new Date('2026-12-04T12:05:01Z'), recipient })).rejects.toMatchObject({ code: 'BUNDLE_EXPIRED' });
    await expect(verifyBundle(block('bundle'), trust, { now: new Date('2026-11-27T11:54:59Z'), recipient })).rejects.toMatchObject({ code: 'BUNDLE_NOT_YET_VALID' });
  });

  it('the example signature checks with node:crypto alone, as the document describes', () => {
    const bundle = JSON.parse(block('bundle')) as { payload: string; signatures: { protected: string; signature: string }[] };
    const trust = JSON.parse(Buffer.from((JSON.parse(block('trust')) as { payload: string }).payload, 'base64url').toString('utf8')) as { signers: { kty: string; crv: string; x: string }[] };
    const s = bundle.signatures[0]!;
    const key = createPublicKey({ key: trust.signers[0]!, format: 'jwk' });
    expect(verify(null, Buffer.from(`${s.protected}.${bundle.payload}`, 'ascii'), key, Buffer.from(s.signature, 'base64url'))).toBe(true);
  });

  it('names every error code the importer can raise', () => {
    for (const code of IMPORT_ERROR_CODES) expect(doc, code).toContain(`\`${code}\``);
  });

  it('settles what an independent implementation would otherwise guess (issue 15), each with its code', () => {
    // Each statement is tested against the code in test/importer/format-rules.test.ts and strict-json.test.ts.
    const flat = doc.replace(/\s+/g, ' ');
    expect(flat).toContain('UTF-8 **without a byte order mark**');
    expect(flat).toMatch(/`cty` is optional .* exactly `keyhold-secrets\+json` .* \(`BUNDLE_DECRYPT`\)/);
    expect(flat).toMatch(/`expiresAt` .* must be after `issuedAt` \(equal or earlier is `TRUST_ROOT_INVALID`\)/);
    expect(flat).toContain('The rules run **rule by rule, not signature by signature**');
    expect(flat).toContain('**at most once per object**');
    expect(flat).toMatch(/Every signer key is checked as a point of its curve when the root is read/);
  });
});
