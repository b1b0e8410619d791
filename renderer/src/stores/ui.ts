/**
 * UI store: the one polite announcement (copied, locked, created) that a live
 * region reads out, which area of the unlocked vault shows (screens/registry.ts),
 * and which view the keys area shows.
 */
import { create } from 'zustand';
import type { ScreenId } from '../screens/registry';

export type MainView = 'list' | 'create';

type UiState = Readonly<{
  screen: ScreenId;
  view: MainView;
  notice: string;
  noticeSeq: number;
  showScreen: (screen: ScreenId) => void;
  showView: (view: MainView) => void;
  announce: (text: string) => void;
  reset: () => void;
}>;

export const useUi = create<UiState>()((set) => ({
  screen: 'keys',
  view: 'list',
  notice: '',
  noticeSeq: 0,
  showScreen: (screen) => set({ screen }),
  showView: (view) => set({ view }),
  // The sequence number lets the same text be announced twice in a row.
  announce: (text) => set((s) => ({ notice: text, noticeSeq: s.noticeSeq + 1 })),
  reset: () => set({ view: 'list', screen: 'keys' }),
}));
