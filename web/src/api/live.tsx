// Live updates for the signed-in tab (docs/web-ui.md#live-updates): one event stream while a
// session is open, its events applied to the query cache in place, and its state for the header.

import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { getAccessToken, refreshAccessToken } from './client';
import { startEventStream, type LiveState } from './events';
import { applyLiveEvent, createRefetchBatcher } from './liveCache';

const LiveContext = createContext<LiveState | 'off'>('off');

/** Keeps the stream open while `enabled` (signed in, not signing out). */
export function LiveUpdates({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');
  useEffect(() => {
    if (!enabled) return;
    const batcher = createRefetchBatcher(qc);
    const stop = startEventStream({
      fetch: (input, init) => fetch(input, init),
      token: getAccessToken,
      refresh: refreshAccessToken,
      onEvent: (event) => batcher.add(applyLiveEvent(qc, event)),
      onState: setState,
    });
    return () => {
      stop();
      batcher.cancel();
      setState('connecting');
    };
  }, [enabled, qc]);
  return <LiveContext.Provider value={enabled ? state : 'off'}>{children}</LiveContext.Provider>;
}

const LABEL: Record<LiveState, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' };

/** The header's quiet indicator: words, with a dot that only repeats them. */
export function LiveStatus() {
  const state = useContext(LiveContext);
  if (state === 'off') return null;
  return (
    <span className="live-status" role="status" aria-live="polite" data-testid="live-status" data-state={state}>
      <span className="live-dot" aria-hidden="true" />
      {LABEL[state]}
    </span>
  );
}
