import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { useConfirm, useNotify } from '../../ui/feedback';
import { ErrorBanner, TextField } from '../../ui/form';

/** A JSON object as nested definition lists: the stats and health bodies change shape over time. */
export function KeyValues({ value, testid }: { value: unknown; testid?: string }) {
  if (value === null || typeof value !== 'object') return <span>{String(value)}</span>;
  return (
    <dl className="kv" data-testid={testid}>
      {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
        <div key={k}>
          <dt>{k.replace(/_/g, ' ')}</dt>
          <dd>{v !== null && typeof v === 'object' ? <KeyValues value={v} /> : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function CacheTab() {
  const qc = useQueryClient();
  const notify = useNotify();
  const confirm = useConfirm();
  const stats = useQuery({ queryKey: ['admin', 'cache', 'stats'], queryFn: async () => (await api.get<unknown>('/cache/stats')).data });
  const health = useQuery({ queryKey: ['admin', 'cache', 'health'], queryFn: async () => (await api.get<{ status: string }>('/cache/health')).data });
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['admin', 'cache'] });
  const act = async (what: () => Promise<{ data: { message?: string } }>) => {
    setError(null);
    try {
      const { data } = await what();
      notify(data.message ?? 'Done.', 'success');
    } catch (err) {
      setError(err);
    }
    await refresh();
  };
  const clear = async () => {
    if (await confirm('Clear the whole cache on every instance? Reads are slower until it fills again.', 'Clear cache'))
      await act(() => api.del<{ message: string; l2_keys_deleted: number | null }>('/cache/clear'));
  };
  const evict = async (e: FormEvent) => {
    e.preventDefault();
    if (!key.trim()) return;
    await act(() => api.del(`/cache/jobs/evict/${encodeURIComponent(key.trim())}`));
  };
  return (
    <>
      <div className="row wrap">
        <button type="button" data-testid="cache-warm" onClick={() => void act(() => api.post('/cache/warm'))}>Warm the cache</button>
        <button type="button" className="danger" data-testid="cache-clear" onClick={() => void clear()}>Clear the cache…</button>
        <button type="button" data-testid="cache-refresh" onClick={() => void refresh()}>Refresh</button>
      </div>
      <form onSubmit={evict} className="row wrap" aria-label="Evict a key or pattern">
        <TextField label="Key or glob pattern" testid="cache-evict-key" value={key} onChange={(e) => setKey(e.target.value)} placeholder="task:… or tasks_paginated:*" />
        <button type="submit" data-testid="cache-evict">Evict</button>
      </form>
      <ErrorBanner error={error} testid="cache-error" />
      <div className="grid2">
        <section className="card-box" aria-labelledby="cache-health-h">
          <h2 id="cache-health-h">Health {health.data && <span className={`badge ${health.data.status}`} data-testid="cache-health-status">{health.data.status}</span>}</h2>
          <ErrorBanner error={health.error} />
          {health.data && <KeyValues value={health.data} testid="cache-health" />}
        </section>
        <section className="card-box" aria-labelledby="cache-stats-h">
          <h2 id="cache-stats-h">Statistics</h2>
          <ErrorBanner error={stats.error} />
          {stats.data !== undefined && <KeyValues value={stats.data} testid="cache-stats" />}
        </section>
      </div>
    </>
  );
}
