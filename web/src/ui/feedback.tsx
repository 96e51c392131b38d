// Feedback that is not a page: the progress bar (requests over 300 ms), notices (a polite live
// region, never alert()), and the confirmation dialog for destructive actions.

import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { setActivityHandler } from '../api/client';

// ---- progress -------------------------------------------------------------------------------
let pending = 0;
const listeners = new Set<() => void>();
setActivityHandler((delta) => {
  pending = Math.max(0, pending + delta);
  listeners.forEach((l) => l());
});
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

/** A bar at the top of the page, shown only once a request has been running for 300 ms. */
export function ProgressBar() {
  const busy = useSyncExternalStore(subscribe, () => pending > 0);
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    if (!busy) {
      setVisible(false);
      return;
    }
    const t = window.setTimeout(() => setVisible(true), 300);
    return () => window.clearTimeout(t);
  }, [busy]);
  return visible ? (
    <div className="progress" role="progressbar" aria-label="Loading" data-testid="progress">
      <div className="progress-bar" />
    </div>
  ) : null;
}

// ---- notices --------------------------------------------------------------------------------
type Kind = 'info' | 'success' | 'error';
interface Notice {
  id: number;
  kind: Kind;
  text: string;
}
const NoticeContext = createContext<(text: string, kind?: Kind) => void>(() => {});
export const useNotify = () => useContext(NoticeContext);

// ---- confirm --------------------------------------------------------------------------------
interface Ask {
  text: string;
  action: string;
  resolve: (ok: boolean) => void;
}
const ConfirmContext = createContext<(text: string, action?: string) => Promise<boolean>>(async () => false);
export const useConfirm = () => useContext(ConfirmContext);

export function FeedbackProvider({ children }: { children: ReactNode }) {
  const [notices, setNotices] = useState<Notice[]>([]);
  const seq = useRef(0);
  const notify = useCallback((text: string, kind: Kind = 'info') => {
    const id = ++seq.current;
    setNotices((list) => [...list.slice(-3), { id, kind, text }]);
    window.setTimeout(() => setNotices((list) => list.filter((n) => n.id !== id)), kind === 'error' ? 10_000 : 5_000);
  }, []);

  const [ask, setAsk] = useState<Ask | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const returnFocus = useRef<Element | null>(null);
  const confirm = useCallback(
    (text: string, action = 'Delete') =>
      new Promise<boolean>((resolve) => {
        returnFocus.current = document.activeElement;
        setAsk({ text, action, resolve });
      }),
    [],
  );
  useEffect(() => {
    if (ask && dialog.current && !dialog.current.open) dialog.current.showModal();
  }, [ask]);
  const answer = (ok: boolean) => {
    ask?.resolve(ok);
    setAsk(null);
    dialog.current?.close();
    if (returnFocus.current instanceof HTMLElement) returnFocus.current.focus();
  };

  return (
    <NoticeContext.Provider value={notify}>
      <ConfirmContext.Provider value={confirm}>
        {children}
        <div className="notices" role="status" aria-live="polite">
          {notices.map((n) => (
            <div key={n.id} className={`notice notice-${n.kind}`} data-testid={`notice-${n.kind}`}>
              <span>{n.text}</span>
              <button type="button" className="link" aria-label="Dismiss" onClick={() => setNotices((l) => l.filter((x) => x.id !== n.id))}>
                ×
              </button>
            </div>
          ))}
        </div>
        <dialog
          ref={dialog}
          className="confirm"
          aria-labelledby="confirm-title"
          onCancel={(e) => {
            e.preventDefault();
            answer(false);
          }}
        >
          <h2 id="confirm-title">Are you sure?</h2>
          <p data-testid="confirm-text">{ask?.text}</p>
          <div className="row end">
            <button type="button" data-testid="confirm-no" onClick={() => answer(false)} autoFocus>
              Cancel
            </button>
            <button type="button" className="danger" data-testid="confirm-yes" onClick={() => answer(true)}>
              {ask?.action ?? 'Delete'}
            </button>
          </div>
        </dialog>
      </ConfirmContext.Provider>
    </NoticeContext.Provider>
  );
}
