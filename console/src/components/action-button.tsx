/**
 * A button whose action runs only after confirmation in an in-page dialog
 * (optionally asking for a reason, or offering one option). While the call
 * runs the dialog stays open; an API error is shown in it, and the dialog
 * closes only when the call succeeds.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorBox } from './error-box';

export interface ActionInput {
  reason: string;
  option: boolean;
}

export interface ActionButtonProps {
  label: string;
  title: string;
  children?: ComponentChildren;
  confirmLabel?: string;
  /** Ask for a free-text reason (optional for the user). */
  reasonLabel?: string;
  /** Offer one checkbox (e.g. "reset attempts"). */
  optionLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  run: (input: ActionInput) => Promise<unknown>;
  onDone?: () => void;
}

export function ActionButton(p: ActionButtonProps) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [option, setOption] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const close = (): void => {
    setOpen(false);
    setError(null);
    setReason('');
    setOption(false);
  };
  const confirm = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await p.run({ reason: reason.trim(), option });
      close();
      p.onDone?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button type="button" class={p.danger ? 'danger' : ''} disabled={p.disabled} onClick={() => setOpen(true)}>
        {p.label}
      </button>
      {open && (
        <div class="overlay" onClick={(e) => e.target === e.currentTarget && !busy && close()}>
          <div class="dialog" role="dialog" aria-modal="true" aria-label={p.title}>
            <h3>{p.title}</h3>
            {p.children}
            {p.reasonLabel && (
              <label class="field">
                {p.reasonLabel}
                <input type="text" name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} disabled={busy} />
              </label>
            )}
            {p.optionLabel && (
              <label class="check">
                <input type="checkbox" checked={option} onChange={(e) => setOption(e.currentTarget.checked)} disabled={busy} /> {p.optionLabel}
              </label>
            )}
            <ErrorBox error={error} title="Refused" />
            <div class="buttons">
              <button type="button" onClick={close} disabled={busy}>
                Cancel
              </button>
              <button type="button" class={p.danger ? 'danger primary' : 'primary'} onClick={confirm} disabled={busy} data-confirm>
                {busy ? 'Working…' : (p.confirmLabel ?? p.label)}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
