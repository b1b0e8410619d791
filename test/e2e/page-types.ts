/**
 * Types for code that runs in the page (page.evaluate callbacks). The Node
 * tsconfig has no DOM library, on purpose, so callbacks cast globalThis to
 * these few shapes instead: `const w = globalThis as unknown as PageGlobal`.
 * Only types live here; a callback cannot call an imported function (it is
 * serialized into the page).
 */
import type { Result } from '../../shared/contract.js';

export type Envelope = Result<unknown>;
/** window.keyhold as the page sees it, loosely: the tests send it what the renderer never would. */
export type LooseKeyhold = Record<string, (input?: unknown) => Promise<Result<Record<string, unknown>>>>;

export type PageElement = {
  value: string;
  src: string;
  textContent: string | null;
  tagName: string;
  onerror: (() => void) | null;
  onload: (() => void) | null;
  getAttribute: (name: string) => string | null;
  dispatchEvent: (event: unknown) => boolean;
  append: (...nodes: unknown[]) => void;
  insertAdjacentHTML: (where: string, html: string) => void;
};

export type PageGlobal = {
  keyhold?: LooseKeyhold;
  document: {
    body: PageElement;
    querySelector: (selector: string) => PageElement | null;
    createElement: (tag: string) => PageElement;
    addEventListener: (type: 'securitypolicyviolation', listener: (e: { violatedDirective: string }) => void) => void;
  };
  Event: new (type: string, init?: { bubbles?: boolean }) => unknown;
  Image: new () => PageElement;
  XMLHttpRequest: new () => { onload: (() => void) | null; onerror: (() => void) | null; open: (m: string, u: string) => void; send: () => void };
  WebSocket: new (url: string) => { onopen: (() => void) | null; onerror: (() => void) | null };
  requestAnimationFrame: (cb: () => void) => number;
  fetch: (url: string) => Promise<unknown>;
  [name: string]: unknown;
};
