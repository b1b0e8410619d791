/**
 * The renderer's stores in Node, over the same window.keyhold the preload
 * builds (buildKeyholdApi) and the real router and core: what the browser
 * suites cannot see from the DOM, the stores' own state. Above all: no secret
 * stays in a store once the view that revealed it closes, or the vault locks.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidApiKey } from '../../shared/apikey.js';
import { buildKeyholdApi } from '../../shared/ipc-bridge.js';
import { eventChannel } from '../../shared/ipc-names.js';
import type { IpcRouter } from '../../electron/main/router.js';
import type { KeySummary } from '../../shared/contract.js';
import { makeTestRouter } from '../helpers/router.js';
import { makeTmpDir, type TmpDir } from '../helpers/tmp.js';

// The renderer's modules belong to the web project (tsconfig.web.json), not the Node one this
// file is checked in; they are loaded by path at run time and described here by what the test uses.
type Err = { code: string; message: string } | null;
type KeyForm = { name: string; service: string; environment: string; scopes: string };
type KeyRow = KeySummary & { due: string; rotateAt: string | null };
type KeysState = {
  all: KeyRow[];
  visible: number[];
  total: number;
  partial: boolean;
  status: string;
  fieldErrors: Partial<Record<keyof KeyForm, string>>;
  sort: { column: string; dir: string };
  createKey: (f: KeyForm) => Promise<KeySummary | null>;
  load: () => Promise<void>;
  setFilter: (p: Partial<{ query: string; service: string; environment: string; state: string; due: string }>) => void;
  clearFilters: () => void;
  setSort: (column: string) => void;
};
type KeyDetailState = {
  selectedId: string | null;
  detail: { name: string; currentVersion: number; versions: Array<{ version: number; state: string; revokeReason: string | null }> } | null;
  revealed: { version: number; secret: string; hideAt: number } | null;
  copied: { version: number; clearAt: number | null } | null;
  actionError: Err;
  select: (id: string | null) => Promise<void>;
  reveal: (version: number) => Promise<void>;
  copy: (version: number) => Promise<void>;
  close: () => void;
  rotate: () => Promise<boolean>;
  revoke: (reason: string, version?: number) => Promise<boolean>;
  destroy: (version: number) => Promise<boolean>;
};
type SessionState = {
  phase: string;
  actionError: Err;
  subscribe: () => () => void;
  init: () => Promise<void>;
  createVault: (p: string) => Promise<boolean>;
  unlock: (p: string) => Promise<boolean>;
  lock: () => Promise<void>;
};
type Store<S> = { getState: () => S };
const RENDERER = path.resolve(import.meta.dirname, '../../renderer/src');
const { useKeys, validateForm } = (await import(path.join(RENDERER, 'stores/keys.ts'))) as {
  useKeys: Store<KeysState>;
  validateForm: (f: KeyForm) => Record<string, string>;
};
const { useKeyDetail, groupSecret } = (await import(path.join(RENDERER, 'stores/keyDetail.ts'))) as {
  useKeyDetail: Store<KeyDetailState>;
  groupSecret: (s: string) => string[];
};
const { useSession } = (await import(path.join(RENDERER, 'stores/session.ts'))) as { useSession: Store<SessionState> };

const PASS = 'correct horse battery staple';
let tmp: TmpDir;
let router: IpcRouter;

beforeAll(() => {
  tmp = makeTmpDir('keyhold-e2e-stores-');
  router = makeTestRouter({ vaultPath: path.join(tmp.dir, 'vault.db') }).router;
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  router.onEvent((e) => {
    for (const l of listeners.get(eventChannel(e.name)) ?? []) l(e.payload);
  });
  const api = buildKeyholdApi(
    (channel, payload) => router.handle(channel.slice('keyhold:'.length), { url: 'app://keyhold/index.html', isMainFrame: true }, payload),
    (channel, listener) => {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  );
  (globalThis as { keyhold?: unknown }).keyhold = api;
});

afterAll(() => {
  router.dispose();
  delete (globalThis as { keyhold?: unknown }).keyhold;
  tmp.remove();
});

describe('renderer stores over the real router', () => {
  it('go from no vault to unlocked, and drop revealed secrets when the view changes or the vault locks', async () => {
    const unsubscribe = useSession.getState().subscribe();
    await useSession.getState().init();
    expect(useSession.getState().phase).toBe('no-vault');
    expect(await useSession.getState().createVault(PASS)).toBe(true);
    expect(useSession.getState().phase).toBe('unlocked');

    const keys = useKeys.getState();
    const a = await keys.createKey({ name: 'checkout', service: 'payments', environment: '', scopes: 'charges:write refunds:write' });
    const b = await keys.createKey({ name: 'ledger', service: 'accounting', environment: 'staging', scopes: '' });
    expect(a?.scopes).toEqual(['charges:write', 'refunds:write']);
    expect(a?.environment).toBe('production');
    expect(useKeys.getState().visible).toHaveLength(2);
    expect(await keys.createKey({ name: 'checkout', service: 'payments', environment: 'production', scopes: '' })).toBeNull();
    expect(useKeys.getState().fieldErrors.name).toMatch(/already exists/);

    useKeys.getState().setFilter({ environment: 'staging' });
    expect(useKeys.getState().visible.map((i) => useKeys.getState().all[i]!.name)).toEqual(['ledger']);
    useKeys.getState().setFilter({ environment: '', query: 'CHARGES:' });
    expect(useKeys.getState().visible).toHaveLength(1);
    // Typing on narrows within the current matches; the result equals a fresh filter's.
    useKeys.getState().setFilter({ query: 'e' });
    expect(useKeys.getState().visible).toHaveLength(2);
    useKeys.getState().setFilter({ query: 'led' });
    expect(useKeys.getState().visible.map((i) => useKeys.getState().all[i]!.name)).toEqual(['ledger']);
    useKeys.getState().setFilter({ query: 'ledx' });
    expect(useKeys.getState().visible).toHaveLength(0);
    useKeys.getState().setFilter({ query: 'le' });
    expect(useKeys.getState().visible.map((i) => useKeys.getState().all[i]!.name)).toEqual(['ledger']);
    useKeys.getState().setFilter({ query: '' });

    // Sorting: by name both ways, by service; the filter keeps the sort; due is the core's (new keys are fine).
    const names = (): string[] => useKeys.getState().visible.map((i) => useKeys.getState().all[i]!.name);
    expect(useKeys.getState().all.map((k) => k.due)).toEqual(['ok', 'ok']);
    useKeys.getState().setSort('name');
    expect(names()).toEqual(['checkout', 'ledger']);
    useKeys.getState().setSort('name');
    expect(useKeys.getState().sort).toEqual({ column: 'name', dir: 'desc' });
    expect(names()).toEqual(['ledger', 'checkout']);
    useKeys.getState().setFilter({ due: 'overdue' });
    expect(names()).toEqual([]);
    useKeys.getState().clearFilters();
    expect(names()).toEqual(['ledger', 'checkout']);

    // Reveal, then select another key: the secret is gone from the store.
    const detail = useKeyDetail.getState;
    await detail().select(a!.id);
    expect(detail().detail?.name).toBe('checkout');
    await detail().reveal(1);
    expect(isValidApiKey(detail().revealed?.secret ?? '')).toBe(true);
    expect(groupSecret(detail().revealed?.secret ?? '').join('')).toBe(detail().revealed?.secret);
    // It hides itself: the time is set (30 s from the reveal).
    expect((detail().revealed?.hideAt ?? 0) - Date.now()).toBeGreaterThan(25_000);
    await detail().select(b!.id);
    // Compared as booleans: a failure message must not print a secret.
    expect(detail().revealed === null, 'secret left after selecting another key').toBe(true);
    // Reveal, then close the detail.
    await detail().reveal(1);
    expect(detail().revealed !== null).toBe(true);
    detail().close();
    expect(detail().revealed === null, 'secret left after closing the detail').toBe(true);

    // Rotate, revoke the old version, destroy it; the list row follows each change.
    await detail().select(a!.id);
    expect(await detail().rotate()).toBe(true);
    expect(detail().detail?.currentVersion).toBe(2);
    expect(useKeys.getState().all.find((k) => k.id === a!.id)?.currentVersion).toBe(2);
    expect(await detail().destroy(1)).toBe(false); // still retiring: only revoked versions are destroyed
    expect(detail().actionError?.code).toBeDefined();
    expect(await detail().revoke('superseded', 1)).toBe(true);
    expect(detail().detail?.versions.find((v) => v.version === 1)).toMatchObject({ state: 'revoked', revokeReason: 'superseded' });
    // An older, revoked version can still be revealed (with a warning on screen); a destroyed one cannot.
    await detail().reveal(1);
    expect(detail().revealed?.version).toBe(1);
    expect(await detail().destroy(1)).toBe(true);
    expect(detail().revealed === null, 'secret left after the version changed').toBe(true);
    await detail().reveal(1);
    expect(detail().revealed === null).toBe(true);
    await detail().copy(2);
    expect(detail().copied?.version).toBe(2);

    // Reveal, then the vault locks (as the idle timer would): everything of the vault is cleared.
    await detail().reveal(2);
    expect(detail().revealed !== null).toBe(true);
    await useSession.getState().lock();
    expect(useSession.getState().phase).toBe('locked');
    const after = useKeys.getState();
    expect(detail().revealed === null, 'secret left after lock').toBe(true);
    expect([detail().detail, detail().selectedId, after.all.length, after.visible.length]).toEqual([null, null, 0, 0]);

    // A wrong passphrase is an error on the screen, not a crash; the right one unlocks.
    expect(await useSession.getState().unlock('not the passphrase')).toBe(false);
    expect(useSession.getState().actionError?.code).toBe('WRONG_PASSPHRASE');
    expect(await useSession.getState().unlock(PASS)).toBe(true);
    await expect.poll(() => useKeys.getState().all.length).toBe(2);
    unsubscribe();
  });

  it('validates the key form with the contract schema', () => {
    expect(validateForm({ name: 'ok', service: 'svc', environment: '', scopes: 'a:b, c' })).toEqual({});
    const e = validateForm({ name: '', service: 'bad service', environment: 'x'.repeat(65), scopes: 'a a' });
    expect(Object.keys(e).sort()).toEqual(['environment', 'name', 'scopes', 'service']);
  });
});
