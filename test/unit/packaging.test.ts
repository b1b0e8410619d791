import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);

type FusesHook = {
  afterPack: (context: unknown) => Promise<void>;
  FUSES: Record<string, unknown>;
  electronBinaryPath: (context: unknown) => string;
};
type FuseWire = Record<string, number | string>;

// js-yaml is electron-builder's own YAML parser; the hook is loaded by import(), as electron-builder loads it.
let hook: FusesHook;
beforeAll(async () => {
  hook = (await import(pathToFileURL(path.join(ROOT, 'build/fuses.mjs')).href)) as FusesHook;
});
const yaml = require('js-yaml') as { load: (text: string) => unknown };
const fuses = require('@electron/fuses') as {
  FuseV1Options: Record<string, number>;
  getCurrentFuseWire: (p: string) => Promise<FuseWire>;
};
const O = fuses.FuseV1Options;

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';

/** A file laid out as Electron lays out its fuse wire: sentinel, version 1, length, one byte per fuse. */
function fakeElectron(file: string, wire: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([
    Buffer.alloc(1024, 0x90), Buffer.from(SENTINEL), Buffer.from([1, wire.length]), Buffer.from(wire), Buffer.alloc(1024, 0x90),
  ]));
}

function linuxContext(appOutDir: string): unknown {
  return { appOutDir, electronPlatformName: 'linux', packager: { executableName: 'keyhold', appInfo: { productFilename: 'Keyhold' } } };
}

describe('build/electron-builder.yml', () => {
  type BuilderConfig = Record<string, unknown> & {
    files: string[];
    asarUnpack: string[];
    afterPack: string;
    linux: { target: string[]; maintainer?: string };
    mac: { target: string[] };
    win: { target: string[] };
  };
  const config = yaml.load(fs.readFileSync(path.join(ROOT, 'build/electron-builder.yml'), 'utf8')) as BuilderConfig;

  it('names the app and packs only the build output into an asar', () => {
    expect(config.appId).toMatch(/^[a-z0-9.-]+$/);
    expect(config.productName).toBe('Keyhold');
    expect(config.files).toEqual(expect.arrayContaining(['out/**', 'package.json']));
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toContain('**/*.node');
    expect(config.publish).toBeNull();
  });

  it('rebuilds native modules for Electron and flips fuses after packing', () => {
    expect(config.npmRebuild).toBe(true);
    expect(config.afterPack).toBe('./build/fuses.mjs');
    expect(fs.existsSync(path.join(ROOT, config.afterPack))).toBe(true);
    // electron-builder's own fuse flipping would run after ours, with its own choices.
    expect(config.electronFuses).toBeUndefined();
  });

  it('declares Linux AppImage and deb, macOS dmg and Windows nsis', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.linux.maintainer).toBeTruthy();
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
  });
});

describe('build/fuses.mjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir('keyhold-fuses-');
  });

  it('chooses every fuse the issue names', () => {
    expect(typeof hook.afterPack).toBe('function');
    expect(hook.FUSES[O.RunAsNode!]).toBe(false);
    expect(hook.FUSES[O.EnableNodeOptionsEnvironmentVariable!]).toBe(false);
    expect(hook.FUSES[O.EnableNodeCliInspectArguments!]).toBe(false);
    expect(hook.FUSES[O.GrantFileProtocolExtraPrivileges!]).toBe(false);
    expect(hook.FUSES[O.OnlyLoadAppFromAsar!]).toBe(true);
    expect(hook.FUSES[O.EnableEmbeddedAsarIntegrityValidation!]).toBe(true);
    // Every fuse @electron/fuses knows is decided, none left to Electron's default.
    for (const index of Object.values(O).filter((v) => typeof v === 'number')) {
      expect(typeof hook.FUSES[index]).toBe('boolean');
    }
  });

  it('finds the binary where electron-builder puts it', () => {
    const ctx = (p: string) => ({ appOutDir: '/o', electronPlatformName: p, packager: { executableName: 'keyhold', appInfo: { productFilename: 'Keyhold' } } });
    expect(hook.electronBinaryPath(ctx('linux'))).toBe(path.join('/o', 'keyhold'));
    expect(hook.electronBinaryPath(ctx('win32'))).toBe(path.join('/o', 'Keyhold.exe'));
    expect(hook.electronBinaryPath(ctx('darwin'))).toBe(path.join('/o', 'Keyhold.app'));
    expect(() => hook.electronBinaryPath(ctx('beos'))).toThrow(/platform/);
  });

  it('flips the fuses of a binary with Electron\'s default wire and verifies them', async () => {
    const binary = path.join(dir, 'keyhold');
    // Electron's defaults: RunAsNode, NodeOptions, NodeCliInspect and file:// privileges on.
    fakeElectron(binary, '10110001');
    await hook.afterPack(linuxContext(dir));
    const wire = await fuses.getCurrentFuseWire(binary);
    const on = (i: number | undefined) => wire[String(i)] === 0x31;
    expect(on(O.RunAsNode)).toBe(false);
    expect(on(O.EnableNodeOptionsEnvironmentVariable)).toBe(false);
    expect(on(O.EnableNodeCliInspectArguments)).toBe(false);
    expect(on(O.GrantFileProtocolExtraPrivileges)).toBe(false);
    expect(on(O.OnlyLoadAppFromAsar)).toBe(true);
    expect(on(O.EnableEmbeddedAsarIntegrityValidation)).toBe(true);
  });

  it('accepts a longer wire from a newer Electron, leaving the unknown fuse as it is', async () => {
    const binary = path.join(dir, 'keyhold');
    fakeElectron(binary, '101100011');
    await hook.afterPack(linuxContext(dir));
    const wire = await fuses.getCurrentFuseWire(binary);
    expect(wire['8']).toBe(0x31);
    expect(wire[String(O.RunAsNode)]).toBe(0x30);
  });

  it('fails the packaging when a chosen fuse does not take (removed from the wire)', async () => {
    const binary = path.join(dir, 'keyhold');
    // 'r' marks a removed fuse: writing it is a no-op, so the protection asked for would not exist.
    fakeElectron(binary, '10110r01');
    await expect(hook.afterPack(linuxContext(dir))).rejects.toThrow(/OnlyLoadAppFromAsar/);
  });
});
