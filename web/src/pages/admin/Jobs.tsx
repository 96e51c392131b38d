import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../../api/client';
import { formatDate, fromLocalInput } from '../../api/tasks';
import type { Job } from '../../api/types';
import { useConfirm, useNotify } from '../../ui/feedback';
import { ErrorBanner, SelectField, TextArea, TextField, fieldError } from '../../ui/form';
import { KeyValues } from './Cache';

const TYPES = ['warmup', 'batch', 'scheduled', 'validation', 'eviction'] as const;
type JobType = (typeof TYPES)[number];

interface Queues {
  redis_available: boolean;
  queue_sizes: Record<string, number>;
  local: Job[];
  ready: Job[];
  delayed: Job[];
  processing: Job[];
}

export function JobsTab() {
  const qc = useQueryClient();
  const notify = useNotify();
  const confirm = useConfirm();
  const queues = useQuery({ queryKey: ['admin', 'jobs'], queryFn: async () => (await api.get<Queues>('/cache/jobs', { query: { limit: 50 } })).data });
  const dlq = useQuery({ queryKey: ['admin', 'dlq'], queryFn: async () => (await api.get<{ jobs: Job[]; total: number }>('/cache/jobs/dlq', { query: { limit: 100 } })).data });
  const refresh = () => qc.invalidateQueries({ queryKey: ['admin'] });
  const [dlqError, setDlqError] = useState<unknown>(null);

  const retry = async (body: object) => {
    setDlqError(null);
    try {
      const { data } = await api.post<{ retried: number }>('/cache/jobs/dlq/retry', body);
      notify(`Retried ${data.retried} job${data.retried === 1 ? '' : 's'}.`, 'success');
    } catch (err) {
      setDlqError(err);
    }
    await refresh();
  };
  const purge = async (query: Record<string, string>, what: string) => {
    if (!(await confirm(`Purge ${what} from the dead-letter queue? The jobs are lost.`, 'Purge'))) return;
    setDlqError(null);
    try {
      const { data } = await api.del<{ purged: number }>('/cache/jobs/dlq', { query });
      notify(`Purged ${data.purged} job${data.purged === 1 ? '' : 's'}.`, 'success');
    } catch (err) {
      setDlqError(err);
    }
    await refresh();
  };

  return (
    <>
      <EnqueueForm onDone={refresh} />
      <section className="card-box" aria-labelledby="queues-h">
        <div className="page-head">
          <h2 id="queues-h">Queues</h2>
          <button type="button" data-testid="jobs-refresh" onClick={() => void refresh()}>Refresh</button>
        </div>
        <ErrorBanner error={queues.error} />
        {queues.data && (
          <>
            <p>Redis {queues.data.redis_available ? 'available' : 'unavailable'}</p>
            <KeyValues value={queues.data.queue_sizes} testid="queue-sizes" />
            {(['local', 'ready', 'delayed', 'processing'] as const).map((name) => (
              <JobList key={name} title={`${name} (${queues.data[name].length})`} jobs={queues.data[name]} testid={`queue-${name}`} />
            ))}
          </>
        )}
      </section>
      <section className="card-box" aria-labelledby="dlq-h">
        <div className="page-head">
          <h2 id="dlq-h">Dead-letter queue <span className="count" data-testid="dlq-total">{dlq.data?.total ?? 0}</span></h2>
          <div className="row">
            <button type="button" data-testid="dlq-retry" disabled={!dlq.data?.total} onClick={() => void retry({ all: true })}>Retry all</button>
            <button type="button" className="danger" data-testid="dlq-purge" disabled={!dlq.data?.total} onClick={() => void purge({ all: 'true' }, 'every job')}>Purge all…</button>
          </div>
        </div>
        <ErrorBanner error={dlqError ?? dlq.error} testid="dlq-error" />
        {dlq.data && dlq.data.jobs.length === 0 && <p className="empty" data-testid="dlq-empty">No failed jobs. Jobs land here after their last retry fails.</p>}
        {dlq.data && dlq.data.jobs.length > 0 && (
          <table className="compact">
            <caption className="sr-only">Failed jobs</caption>
            <thead>
              <tr><th scope="col">Job</th><th scope="col">Type</th><th scope="col">Attempts</th><th scope="col">Failed</th><th scope="col">Error</th><th scope="col"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {dlq.data.jobs.map((j) => (
                <tr key={j.id} data-testid="dlq-row" data-job-id={j.id}>
                  <td><code className="small">{j.id}</code></td>
                  <td>{j.type}</td>
                  <td>{j.attempts ?? '—'}</td>
                  <td>{formatDate(j.failed_at ?? null)}</td>
                  <td>{j.last_error ?? ''}</td>
                  <td className="actions">
                    <button type="button" data-testid="dlq-retry-one" aria-label={`Retry job ${j.id}`} onClick={() => void retry({ job_ids: [j.id] })}>Retry</button>
                    <button type="button" className="danger" data-testid="dlq-purge-one" aria-label={`Purge job ${j.id}`} onClick={() => void purge({ job_id: j.id }, 'this job')}>Purge</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function JobList({ title, jobs, testid }: { title: string; jobs: Job[]; testid: string }) {
  return (
    <details data-testid={testid}>
      <summary>{title}</summary>
      {jobs.length === 0 ? <p className="muted">Empty.</p> : (
        <ul className="jobs">
          {jobs.map((j) => (
            <li key={j.id}><code className="small">{j.id}</code> {j.type} · priority {j.priority}{j.process_at ? ` · at ${formatDate(j.process_at)}` : ''}</li>
          ))}
        </ul>
      )}
    </details>
  );
}

function parseJson(text: string, field: string): unknown {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${field} must be valid JSON (for example "text", 42 or {"a": 1}).`);
  }
}

function EnqueueForm({ onDone }: { onDone: () => Promise<unknown> }) {
  const notify = useNotify();
  const [type, setType] = useState<JobType>('warmup');
  const [key, setKey] = useState('');
  const [keys, setKeys] = useState('');
  const [pattern, setPattern] = useState('');
  const [data, setData] = useState('');
  const [ttl, setTtl] = useState('');
  const [priority, setPriority] = useState('5');
  const [processAt, setProcessAt] = useState('');
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { priority: Number(priority) || 0 };
      if (ttl) body.ttl = ttl;
      if (type === 'batch') body.keys = keys.split(/[\s,]+/).filter(Boolean);
      else if (type === 'eviction') {
        if (pattern) body.pattern = pattern;
        else body.key = key;
        delete body.ttl;
      } else body.key = key;
      if (type === 'validation') body.expected_data = parseJson(data, 'Expected data');
      else if (type !== 'eviction') body.data = parseJson(data, 'Data');
      if (type === 'scheduled') body.process_at = fromLocalInput(processAt);
      const res = await api.post<{ message: string; job_id: string; queue: string }>(`/cache/jobs/${type}`, body);
      notify(`${res.data.message} (job ${res.data.job_id}, ${res.data.queue} queue).`, 'success');
      await onDone();
    } catch (err) {
      setError(err);
    }
  };
  const err = (f: string) => fieldError(error, f);
  return (
    <section className="card-box" aria-labelledby="enqueue-h">
      <h2 id="enqueue-h">Enqueue a job</h2>
      <form onSubmit={submit} noValidate>
        <ErrorBanner error={error} testid="job-error" />
        <div className="grid3">
          <SelectField label="Type" testid="job-type" value={type} onChange={(e) => setType(e.target.value as JobType)}>
            {TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </SelectField>
          {type === 'batch' ? (
            <TextField label="Keys (comma or space separated)" testid="job-keys" value={keys} onChange={(e) => setKeys(e.target.value)} error={err('keys')} />
          ) : (
            <TextField label="Key" testid="job-key" value={key} onChange={(e) => setKey(e.target.value)} error={err('key')} />
          )}
          {type === 'eviction' && <TextField label="Or a glob pattern" testid="job-pattern" value={pattern} onChange={(e) => setPattern(e.target.value)} error={err('pattern')} />}
          <TextField label="Priority (1 urgent – 10)" type="number" min={0} max={10} testid="job-priority" value={priority} onChange={(e) => setPriority(e.target.value)} error={err('priority')} />
          {type !== 'eviction' && <TextField label="TTL (e.g. 15m, 90s)" testid="job-ttl" value={ttl} onChange={(e) => setTtl(e.target.value)} error={err('ttl')} />}
          {type === 'scheduled' && <TextField label="Process at" type="datetime-local" testid="job-process-at" value={processAt} onChange={(e) => setProcessAt(e.target.value)} error={err('process_at')} />}
        </div>
        {type !== 'eviction' && (
          <TextArea label={type === 'validation' ? 'Expected data (JSON)' : 'Data (JSON, optional)'} testid="job-data" rows={2} value={data}
            onChange={(e) => setData(e.target.value)} error={err(type === 'validation' ? 'expected_data' : 'data')} />
        )}
        <button type="submit" className="primary" data-testid="job-enqueue">Enqueue</button>
      </form>
    </section>
  );
}
