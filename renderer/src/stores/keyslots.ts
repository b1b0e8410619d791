/**
 * Keyslots store: the vault's keyslots (slot.list) and what changes them (add
 * a passphrase or token slot, remove one, change the passphrase), plus the
 * tokens present and the keys of the one chosen for a new token slot.
 *
 * No passphrase or PIN is ever kept here: each action takes them as
 * arguments, passes them to the one call and drops them. A token is named by
 * its serial, so a PIN goes to that token only.
 */
import { create } from 'zustand';
import type { KeyslotInfo, TokenInfo, TokenKeyInfo } from '../../../shared/contract';
import { call, pinFields, type ApiError } from '../api';
import { useUi } from './ui';

/** What removing a slot would leave, from slot.remove's dry run. */
export type RemovalPreview = Readonly<{ slot: KeyslotInfo; passphraseSlotsLeft: number }>;

export type TokenKeysState = Readonly<{
  serial: string;
  status: 'loading' | 'ready' | 'error';
  keys: readonly TokenKeyInfo[];
  error: ApiError | null;
}>;

export type AddTokenArgs = Readonly<{
  serial: string;
  keyLabel: string;
  label: string;
  pin: string | null;
  allowFinalTry: boolean;
}>;

type KeyslotsState = Readonly<{
  /** null until the first list arrives. */
  slots: readonly KeyslotInfo[] | null;
  loading: boolean;
  error: ApiError | null;
  /** The tokens present (for a new token slot); null until listed. */
  tokens: readonly TokenInfo[] | null;
  tokensError: ApiError | null;
  tokenKeys: TokenKeysState | null;
  load: () => Promise<void>;
  addPassphrase: (passphrase: string, label: string) => Promise<ApiError | null>;
  changePassphrase: (current: string, next: string) => Promise<ApiError | null>;
  /** What removing the slot would do, without doing it (slot.remove with dryRun). */
  previewRemove: (id: number) => Promise<{ ok: true; value: RemovalPreview } | { ok: false; error: ApiError }>;
  remove: (id: number) => Promise<ApiError | null>;
  loadTokens: () => Promise<void>;
  /** Lists again and answers the token with this serial as it is now, or null when it is gone. */
  recheckToken: (serial: string) => Promise<TokenInfo | null>;
  setTokens: (tokens: readonly TokenInfo[]) => void;
  /** The token's keys as it shows them without a PIN (public objects). */
  loadTokenKeys: (serial: string) => Promise<void>;
  addToken: (args: AddTokenArgs) => Promise<ApiError | null>;
  /** Forgets everything (the screen closes, the vault locks). */
  reset: () => void;
}>;

function ordered(tokens: readonly TokenInfo[]): TokenInfo[] {
  return [...tokens].sort((a, b) => Number(a.empty) - Number(b.empty) || a.label.localeCompare(b.label) || a.slot.localeCompare(b.slot));
}

/** A slot as a sentence names it: "the passphrase keyslot 'backup' (#2)". */
export function slotName(s: Pick<KeyslotInfo, 'id' | 'type' | 'label'>): string {
  return `the ${s.type} keyslot${s.label ? ` '${s.label}'` : ''} (#${s.id})`;
}

export const useKeyslots = create<KeyslotsState>()((set, get) => ({
  slots: null,
  loading: false,
  error: null,
  tokens: null,
  tokensError: null,
  tokenKeys: null,

  load: async () => {
    set({ loading: true, error: null });
    const r = await call((api) => api.slotList());
    if (!r.ok) {
      set({ loading: false, error: r.error });
      return;
    }
    set({ loading: false, slots: r.value });
  },

  addPassphrase: async (passphrase, label) => {
    const r = await call((api) => api.slotAddPassphrase({ passphrase, label }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Passphrase keyslot #${r.value.id} added.`);
    await get().load();
    return null;
  },

  changePassphrase: async (current, next) => {
    const r = await call((api) => api.passphraseChange({ current, next }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Passphrase of keyslot #${r.value.id} changed.`);
    await get().load();
    return null;
  },

  previewRemove: async (id) => {
    const r = await call((api) => api.slotRemove({ id, dryRun: true }));
    if (!r.ok) return { ok: false, error: r.error };
    return { ok: true, value: { slot: r.value.slot, passphraseSlotsLeft: r.value.passphraseSlotsLeft } };
  },

  remove: async (id) => {
    const r = await call((api) => api.slotRemove({ id }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Keyslot #${id} removed.`);
    await get().load();
    return null;
  },

  loadTokens: async () => {
    set({ tokensError: null });
    const r = await call((api) => api.tokenList());
    if (!r.ok) {
      set({ tokensError: r.error });
      return;
    }
    get().setTokens(r.value);
  },

  recheckToken: async (serial) => {
    const r = await call((api) => api.tokenList());
    if (!r.ok) {
      set({ tokensError: r.error });
      return null;
    }
    get().setTokens(r.value);
    return r.value.find((t) => !t.empty && t.serial === serial) ?? null;
  },

  setTokens: (tokens) => {
    const keys = get().tokenKeys;
    const present = new Set(tokens.filter((t) => !t.empty).map((t) => t.serial));
    set({ tokens: ordered(tokens), tokensError: null, tokenKeys: keys && present.has(keys.serial) ? keys : null });
  },

  loadTokenKeys: async (serial) => {
    set({ tokenKeys: { serial, status: 'loading', keys: [], error: null } });
    const r = await call((api) => api.tokenKeys({ token: serial, login: false }));
    // A newer choice of token wins over this answer.
    if (get().tokenKeys?.serial !== serial) return;
    if (!r.ok) {
      set({ tokenKeys: { serial, status: 'error', keys: [], error: r.error } });
      return;
    }
    const found = r.value.find((g) => g.token.serial === serial);
    set({ tokenKeys: { serial, status: 'ready', keys: found?.keys ?? [], error: null } });
  },

  addToken: async ({ serial, keyLabel, label, pin, allowFinalTry }) => {
    const r = await call((api) => api.slotAddToken({ token: serial, keyLabel, label, ...pinFields(pin, allowFinalTry) }));
    if (!r.ok) return r.error;
    useUi.getState().announce(`Token keyslot #${r.value.id} added.`);
    await get().load();
    return null;
  },

  reset: () => set({ slots: null, loading: false, error: null, tokens: null, tokensError: null, tokenKeys: null }),
}));
