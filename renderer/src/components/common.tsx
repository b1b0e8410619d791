/** Pieces every screen uses: error and loading blocks, and a heading that takes focus when its screen opens. */
import { useEffect, useRef, type ReactNode } from 'react';
import type { ApiError } from '../api';
import { humanError } from '../errors';

/** An error as people read it: the core's message without its prefix, and a hint for the app, not a terminal. */
export function ErrorBlock({ error, title, children }: { error: ApiError; title?: string; children?: ReactNode }) {
  const shown = humanError(error);
  return (
    <div className="error-block" role="alert" data-testid="error" data-code={error.code}>
      <p className="error-title">{title ?? 'Something went wrong'}</p>
      <p>{shown.message}</p>
      {shown.hint ? <p className="hint">{shown.hint}</p> : null}
      {children}
    </div>
  );
}

export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/**
 * A screen's h1, focused when the screen mounts (and when `focusKey` changes, for
 * a view switched inside a screen) so keyboard and screen-reader users land on it
 * rather than on the body when the control they used disappears.
 */
export function ScreenTitle({ children, focus = true, focusKey }: { children: ReactNode; focus?: boolean; focusKey?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(
    function focusTitle() {
      if (focus) ref.current?.focus();
    },
    [focus, focusKey],
  );
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}
