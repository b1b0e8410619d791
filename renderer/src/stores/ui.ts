/**
 * UI store: the one polite announcement (copied, locked, created) that a live
 * region reads out, and which main-area view is showing.
 */
import { create } from 'zustand';

export type MainView = 'list' | 'create';

type UiState = Readonly<{
  view: MainView;
  notice: string;
  noticeSeq: number;
  showView: (view: MainView) => void;
  announce: (text: string) => void;
  reset: () => void;
}>;

export const useUi = create<UiState>()((set) => ({
  view: 'list',
  notice: '',
  noticeSeq: 0,
  showView: (view) => set({ view }),
  // The sequence number lets the same text be announced twice in a row.
  announce: (text) => set((s) => ({ notice: text, noticeSeq: s.noticeSeq + 1 })),
  reset: () => set({ view: 'list' }),
}));
