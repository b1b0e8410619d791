/**
 * Main's events (shared/ipc.ts ipcEvents) for components: `useIpcEvent`
 * subscribes while the component is mounted and releases the subscription when
 * it unmounts, so a screen that is left stops listening.
 */
import { useEffect, useRef } from 'react';
import type { IpcEventPayload } from '../../shared/ipc';
import type { IpcEventName } from '../../shared/ipc-names';
import { bridge } from './api';

export function useIpcEvent<E extends IpcEventName>(event: E, listener: (payload: IpcEventPayload<E>) => void): void {
  // The latest listener is called, without resubscribing on every render.
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(
    function subscribe() {
      const api = bridge();
      if (!api) return undefined;
      return api.on(event, function onEvent(payload) {
        latest.current(payload);
      });
    },
    [event],
  );
}

/** Subscribes outside React (a store's long-running action); returns the unsubscribe function. */
export function onIpcEvent<E extends IpcEventName>(event: E, listener: (payload: IpcEventPayload<E>) => void): () => void {
  const api = bridge();
  return api ? api.on(event, listener) : () => undefined;
}
