// The board: one column per status. A card moves by drag and drop, or by keyboard: focus it and
// press ← / → (↑ / ↓ move the focus within a column). Each move is an optimistic PUT with If-Match.

import { useEffect, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import { dueState, formatDate, useOptimisticUpdate } from '../api/tasks';
import { PRIORITY_LABEL, STATUSES, STATUS_LABEL, type Profile, type Status, type Task } from '../api/types';
import { canWrite } from './Tasks';

interface Props {
  tasks: Task[];
  profile: Profile | null;
  onEdit: (task: Task) => void;
  truncated: boolean;
}

export function TaskBoard({ tasks, profile, onEdit, truncated }: Props) {
  const move = useOptimisticUpdate();
  const [over, setOver] = useState<Status | null>(null);
  const [announce, setAnnounce] = useState('');
  // The card to focus once it shows up in its new column (a move remounts it there).
  const refocus = useRef<{ id: string; status: Status } | null>(null);
  const board = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const target = refocus.current;
    if (!target) return;
    const el = board.current?.querySelector<HTMLElement>(`[data-status="${target.status}"] [data-card-id="${target.id}"]`);
    if (el) {
      el.focus();
      refocus.current = null;
    }
  });

  const moveTo = (task: Task, status: Status) => {
    if (task.status === status) return;
    refocus.current = { id: task.id, status };
    setAnnounce(`Moved “${task.title}” to ${STATUS_LABEL[status]}.`);
    move.mutate({ task, input: { status } });
  };

  const onKey = (e: KeyboardEvent<HTMLElement>, task: Task) => {
    const col = STATUSES.indexOf(task.status);
    if ((e.key === 'ArrowRight' || e.key === 'ArrowLeft') && canWrite(profile, task)) {
      const next = STATUSES[col + (e.key === 'ArrowRight' ? 1 : -1)];
      if (next) {
        e.preventDefault();
        moveTo(task, next);
      }
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const cards = Array.from(e.currentTarget.parentElement?.querySelectorAll<HTMLElement>('[data-card-id]') ?? []);
      const i = cards.indexOf(e.currentTarget);
      const target = cards[i + (e.key === 'ArrowDown' ? 1 : -1)];
      if (target) {
        e.preventDefault();
        target.focus();
      }
    } else if (e.key === 'Enter' && canWrite(profile, task)) {
      e.preventDefault();
      onEdit(task);
    }
  };

  const onDrop = (e: DragEvent, status: Status) => {
    e.preventDefault();
    setOver(null);
    const id = e.dataTransfer.getData('text/plain');
    const task = tasks.find((t) => t.id === id);
    if (task) moveTo(task, status);
  };

  return (
    <>
      <p className="hint" id="board-help">
        Drag a card to another column, or focus a card and press ← or → to move it. Enter edits it.
      </p>
      {truncated && <p className="hint">The board shows the first 100 tasks; use the filters to narrow it.</p>}
      <div className="board" ref={board} data-testid="task-board">
        {STATUSES.map((status) => {
          const column = tasks.filter((t) => t.status === status);
          return (
            <section key={status} className={`column${over === status ? ' drop' : ''}`} aria-labelledby={`col-${status}`}
              data-testid={`board-column-${status}`} data-status={status}
              onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; setOver(status); }}
              onDragLeave={() => setOver((s) => (s === status ? null : s))}
              onDrop={(e) => onDrop(e, status)}>
              <h2 id={`col-${status}`}>
                {STATUS_LABEL[status]} <span className="count">{column.length}</span>
              </h2>
              <ul className="cards">
                {column.length === 0 && <li className="empty-col">Nothing here. Drop a card to move it.</li>}
                {column.map((t) => {
                  const due = dueState(t);
                  const writable = canWrite(profile, t);
                  return (
                    <li key={t.id} tabIndex={0} className={`card${due ? ` ${due}` : ''}`} data-card-id={t.id} data-testid="board-card"
                      draggable={writable} aria-describedby="board-help"
                      aria-label={`${t.title}, ${STATUS_LABEL[t.status]}, ${PRIORITY_LABEL[t.priority]} priority`}
                      onDragStart={(e) => { e.dataTransfer.setData('text/plain', t.id); e.dataTransfer.effectAllowed = 'move'; }}
                      onKeyDown={(e) => onKey(e, t)}>
                      <span className="task-title">{t.title}</span>
                      <span className="card-meta">
                        <span className={`badge prio-${t.priority}`}>{PRIORITY_LABEL[t.priority]}</span>
                        {t.due_date && <span className={due ? `flag ${due}-flag` : ''}>{due === 'overdue' ? 'Overdue · ' : due === 'soon' ? 'Due soon · ' : 'Due '}{formatDate(t.due_date)}</span>}
                        {t.user_id !== profile?.id && <span>{t.owner_username}</span>}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </section>
          );
        })}
      </div>
      <div className="sr-only" aria-live="polite">{announce}</div>
    </>
  );
}
