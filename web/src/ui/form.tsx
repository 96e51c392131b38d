// Labelled form fields that show the server's `errors[]` entry for their field.

import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';
import { ApiError } from '../api/client';

interface Common {
  label: string;
  error?: string;
  hint?: ReactNode;
  testid?: string;
}

function describedBy(id: string, error?: string, hint?: ReactNode) {
  return [error ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
}

export function TextField({ label, error, hint, testid, ...rest }: Common & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} data-testid={testid} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, error, hint)} {...rest} />
      {hint && <div id={`${id}-hint`} className="hint">{hint}</div>}
      {error && <div id={`${id}-err`} className="field-error" data-testid={testid ? `${testid}-error` : undefined}>{error}</div>}
    </div>
  );
}

export function TextArea({ label, error, testid, ...rest }: Common & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} data-testid={testid} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, error)} {...rest} />
      {error && <div id={`${id}-err`} className="field-error">{error}</div>}
    </div>
  );
}

export function SelectField({ label, error, testid, children, ...rest }: Common & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} data-testid={testid} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, error)} {...rest}>
        {children}
      </select>
      {error && <div id={`${id}-err`} className="field-error">{error}</div>}
    </div>
  );
}

/** The problem's message, for the top of a form. Field errors are shown by the fields. */
export function ErrorBanner({ error, testid }: { error: unknown; testid?: string }) {
  if (!error) return null;
  const text = error instanceof Error ? error.message : 'Something went wrong.';
  return (
    <div className="error-banner" role="alert" data-testid={testid}>
      {text}
      {error instanceof ApiError && error.errors.length > 0 && error.errors.some((e) => !e.field) && (
        <ul>
          {error.errors.filter((e) => !e.field).map((e, i) => <li key={i}>{e.message}</li>)}
        </ul>
      )}
    </div>
  );
}

export function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof ApiError ? error.fieldError(field) : undefined;
}

const CLASSES: [string, RegExp][] = [
  ['an uppercase letter', /[A-Z]/],
  ['a lowercase letter', /[a-z]/],
  ['a number', /[0-9]/],
  ['a special character', /[!@#$%^&*()_+\-=[\]{}|;:,.<>?]/],
];

/** The password rules, ticked off live as the user types. */
export function PasswordChecklist({ password, id }: { password: string; id?: string }) {
  const rules: [string, boolean][] = [
    ['8 to 128 characters', password.length >= 8 && password.length <= 128],
    ...CLASSES.map(([name, re]): [string, boolean] => [name, re.test(password)]),
  ];
  return (
    <ul className="checklist" id={id} data-testid="pw-checklist" aria-label="Password rules">
      {rules.map(([name, ok]) => (
        <li key={name} className={ok ? 'ok' : 'missing'} data-ok={ok ? 'true' : 'false'}>
          <span aria-hidden="true">{ok ? '✓' : '○'}</span> {name}
          <span className="sr-only">{ok ? ' (done)' : ' (missing)'}</span>
        </li>
      ))}
    </ul>
  );
}

export function passwordOk(password: string): boolean {
  return password.length >= 8 && password.length <= 128 && CLASSES.every(([, re]) => re.test(password));
}
