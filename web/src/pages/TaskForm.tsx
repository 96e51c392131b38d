// The create/edit dialog. Editing sends `If-Match`; on 412 the dialog says the task changed
// elsewhere, reloads the server's version (so the next save carries the new version) and keeps
// what the user typed.
//
// Live updates (docs/web-ui.md#live-updates) bring newer versions of the task while the dialog is
// open: without unsaved edits the form takes them over; with unsaved edits it keeps the user's
// values and its base version and says quietly that the task changed elsewhere, so saving still
// goes through the 412 flow above and nothing is overwritten unseen.

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client';
import { createTask, fetchTask, fromLocalInput, toLocalInput, updateTask, type TaskInput } from '../api/tasks';
import { PRIORITIES, PRIORITY_LABEL, STATUSES, STATUS_LABEL, type Task } from '../api/types';
import { useNotify } from '../ui/feedback';
import { ErrorBanner, SelectField, TextArea, TextField, fieldError } from '../ui/form';

interface Props {
  task: Task | null;
  /** The task as the list now holds it (live updates); null once it left the list. */
  latest?: Task | null;
  onClose: () => void;
}

type Remote = null | 'taken' | 'changed' | 'gone';

export function TaskForm({ task, latest, onClose }: Props) {
  const qc = useQueryClient();
  const notify = useNotify();
  const dialog = useRef<HTMLDialogElement>(null);
  const [base, setBase] = useState<Task | null>(task);
  const [title, setTitle] = useState(task?.title ?? '');
  const [description, setDescription] = useState(task?.description ?? '');
  const [status, setStatus] = useState<string>(task?.status ?? 'pending');
  const [priority, setPriority] = useState<string>(task?.priority ?? 'medium');
  const [due, setDue] = useState(toLocalInput(task?.due_date ?? null));
  const [error, setError] = useState<unknown>(null);
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const [remote, setRemote] = useState<Remote>(null);

  const dirty =
    !!base &&
    (title !== base.title ||
      description !== base.description ||
      status !== base.status ||
      priority !== base.priority ||
      due !== toLocalInput(base.due_date));

  useEffect(() => {
    // While saving, the newer version is most likely this save's own.
    if (!base || latest === undefined || busy) return;
    if (latest === null) {
      setRemote('gone');
      return;
    }
    if (latest.version <= base.version) return;
    if (dirty) {
      setRemote('changed');
      return;
    }
    setBase(latest);
    setTitle(latest.title);
    setDescription(latest.description);
    setStatus(latest.status);
    setPriority(latest.priority);
    setDue(toLocalInput(latest.due_date));
    setRemote('taken');
    // Only a new version from the list is a reason to look again.
  }, [latest]);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const input: TaskInput = {
      title,
      description,
      status: status as Task['status'],
      priority: priority as Task['priority'],
      due_date: fromLocalInput(due),
    };
    try {
      if (base) {
        await updateTask(base, input);
        notify(`Saved “${title}”.`, 'success');
      } else {
        await createTask(input);
        notify(`Created “${title}”.`, 'success');
      }
      await qc.invalidateQueries({ queryKey: ['tasks'] });
      dialog.current?.close();
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.status === 412 && base) {
        setConflict(true);
        try {
          setBase(await fetchTask(base.id));
        } catch (reloadErr) {
          setError(reloadErr);
        }
        void qc.invalidateQueries({ queryKey: ['tasks'] });
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  const err = (f: string) => fieldError(error, f);
  return (
    <dialog ref={dialog} className="task-form" aria-labelledby="task-form-title" onClose={onClose} data-testid="task-form">
      <form onSubmit={submit} noValidate>
        <h2 id="task-form-title">{task ? 'Edit task' : 'New task'}</h2>
        {conflict && base && (
          <div className="warning" role="alert" data-testid="task-conflict">
            This task was changed elsewhere. The latest version is loaded (now version {base.version}, “{base.title}”,{' '}
            {STATUS_LABEL[base.status]}); your edits are kept below. Save again to apply them.
          </div>
        )}
        {remote && !conflict && (
          <p className="note" role="status" data-testid="task-remote-change" data-remote={remote}>
            {remote === 'taken' && 'This task was just changed elsewhere; the form shows the new values.'}
            {remote === 'changed' && latest && `This task was changed elsewhere (now “${latest.title}”, ${STATUS_LABEL[latest.status]}). Your edits are kept; saving shows the latest version first.`}
            {remote === 'gone' && 'This task was changed or deleted elsewhere and is no longer in this list.'}
          </p>
        )}
        <ErrorBanner error={error} testid="task-form-error" />
        <TextField label="Title" testid="task-form-title" value={title} onChange={(e) => setTitle(e.target.value)} error={err('title')} required autoFocus maxLength={255} />
        <TextArea label="Description" testid="task-form-description" value={description} onChange={(e) => setDescription(e.target.value)} error={err('description')} rows={4} />
        <div className="grid3">
          <SelectField label="Status" testid="task-form-status" value={status} onChange={(e) => setStatus(e.target.value)} error={err('status')}>
            {STATUSES.map((s) => <option key={s} value={s}>{STATUS_LABEL[s]}</option>)}
          </SelectField>
          <SelectField label="Priority" testid="task-form-priority" value={priority} onChange={(e) => setPriority(e.target.value)} error={err('priority')}>
            {PRIORITIES.map((p) => <option key={p} value={p}>{PRIORITY_LABEL[p]}</option>)}
          </SelectField>
          <TextField label="Due date" type="datetime-local" testid="task-form-due" value={due} onChange={(e) => setDue(e.target.value)} error={err('due_date')} />
        </div>
        <div className="row end">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="primary" data-testid="task-save" disabled={busy}>
            {busy ? 'Saving…' : task ? 'Save changes' : 'Create task'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
