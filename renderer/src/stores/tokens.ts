/**
 * Tokens store: the PKCS#11 tokens present (token.list, kept current by main's
 * `tokens.changed` event while a screen listens), and each token's keys
 * (token.keys) by serial. Used by the Tokens screen and the unlock screen.
 *
 * No PIN is ever kept here: actions that log in take the PIN as an argument,
 * pass it to the one call and drop it. Commands name a token by its serial
 * (unique, unlike labels), so a PIN goes to that token only.
 */
import { create } from 'zustand';
import type { TokenInfo, TokenKeyInfo } from '../../../shared/contract';
import { call, pinFields, type ApiError } from '../api';

export type TokenAlg = 'ES256' | 'EdDSA';

export type TokenKeys = Readonly<{
  status: 'loading' | 'ready' | 'error';
  keys: readonly TokenKeyInfo[];
  /** Private keys listed too (after a login); without it, tokens show public objects only. */
  withPrivate: boolean;
  error: ApiError | null;
}>;

type TokensState = Readonly<{
  /** null until the first list arrives. */
  tokens: readonly TokenInfo[] | null;
  loading: boolean;
  error: ApiError | null;
  /** By serial. */
  keys: Readonly<Record<string, TokenKeys>>;
  /** Lists the tokens present (a rescan: the PIN state is read afresh). */
  load: () => Promise<void>;
  /** Lists again and answers the token with this serial as it is now, or null when it is gone. */
  recheck: (serial: string) => Promise<TokenInfo | null>;
  /** The tokens main reported in `tokens.changed`. */
  setTokens: (tokens: readonly TokenInfo[]) => void;
  /** The token's keys: public objects only without a PIN; with one (login), private keys too. */
  loadKeys: (serial: string, login?: Readonly<{ pin: string | null; allowFinalTry: boolean }>) => Promise<ApiError | null>;
  /** Generates a signing key on the token; then lists its keys again. */
  keygen: (serial: string, label: string, alg: TokenAlg, pin: string | null, allowFinalTry: boolean) => Promise<ApiError | null>;
  /** Forgets the keys listed (the screen closes). */
  clearKeys: () => void;
}>;

/** Sorted as people look for them: initialised tokens by label, empty slots last. */
function ordered(tokens: readonly TokenInfo[]): TokenInfo[] {
  return [...tokens].sort((a, b) => Number(a.empty) - Number(b.empty) || a.label.localeCompare(b.label) || a.slot.localeCompare(b.slot));
}

export const useTokens = create<TokensState>()((set, get) => ({
  tokens: null,
  loading: false,
  error: null,
  keys: {},

  load: async () => {
    set({ loading: true, error: null });
    const r = await call((api) => api.tokenList());
    if (!r.ok) {
      set({ loading: false, error: r.error });
      return;
    }
    get().setTokens(r.value);
    set({ loading: false });
  },

  recheck: async (serial) => {
    const r = await call((api) => api.tokenList());
    if (!r.ok) {
      set({ error: r.error });
      return null;
    }
    get().setTokens(r.value);
    return r.value.find((t) => !t.empty && t.serial === serial) ?? null;
  },

  setTokens: (tokens) => {
    const present = new Set(tokens.filter((t) => !t.empty).map((t) => t.serial));
    const keys: Record<string, TokenKeys> = {};
    // Keys of a token that left are forgotten with it.
    for (const [serial, entry] of Object.entries(get().keys)) if (present.has(serial)) keys[serial] = entry;
    set({ tokens: ordered(tokens), keys, error: null });
  },

  loadKeys: async (serial, login) => {
    const before = get().keys[serial];
    set({ keys: { ...get().keys, [serial]: { status: 'loading', keys: before?.keys ?? [], withPrivate: before?.withPrivate ?? false, error: null } } });
    const r = await call((api) =>
      api.tokenKeys({ token: serial, login: login !== undefined, ...(login ? pinFields(login.pin, login.allowFinalTry) : {}) }),
    );
    if (!r.ok) {
      // A failed login leaves what was listed before; the error goes to the PIN prompt.
      const failed: TokenKeys = login
        ? { status: 'ready', keys: before?.keys ?? [], withPrivate: before?.withPrivate ?? false, error: null }
        : { status: 'error', keys: [], withPrivate: false, error: r.error };
      set({ keys: { ...get().keys, [serial]: failed } });
      return r.error;
    }
    const found = r.value.find((g) => g.token.serial === serial);
    set({ keys: { ...get().keys, [serial]: { status: 'ready', keys: found?.keys ?? [], withPrivate: login !== undefined, error: null } } });
    return null;
  },

  keygen: async (serial, label, alg, pin, allowFinalTry) => {
    const r = await call((api) => api.tokenKeygen({ token: serial, label, alg, ...pinFields(pin, allowFinalTry) }));
    if (!r.ok) return r.error;
    // Logged in now: the list shows private keys too, without asking again.
    const listed = await get().loadKeys(serial, { pin: null, allowFinalTry: false });
    if (listed) await get().loadKeys(serial);
    return null;
  },

  clearKeys: () => set({ keys: {} }),
}));
