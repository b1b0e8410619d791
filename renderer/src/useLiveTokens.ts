import { useEffect } from 'react';
import { useIpcEvent } from './events';
import { useTokens } from './stores/tokens';

/**
 * Keeps the shared token list (stores/tokens.ts) current while a component
 * that shows it is mounted: read once on mount, then replaced by each
 * `tokens.changed` event main sends on a USB hotplug. Components read the
 * list itself from useTokens.
 */
export function useLiveTokens(): void {
  const load = useTokens((s) => s.load);
  const setTokens = useTokens((s) => s.setTokens);
  useEffect(
    function listTokens() {
      void load();
    },
    [load],
  );
  useIpcEvent('tokens.changed', function onTokensChanged(p) {
    setTokens(p.tokens);
  });
}
