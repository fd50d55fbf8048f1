import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { adminApi, errorText, getJson } from './api';

/**
 * A modal dialog on the native <dialog> element: focus moves into it and stays there,
 * Escape closes it, and its accessible name is its title.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean; focusTitle?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleRef = useRef<HTMLHeadingElement>(null);
  const titleId = useId();
  useEffect(() => {
    // focus goes back where it came from when the dialog closes (keyboard users keep their place)
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const d = ref.current;
    if (d && !d.open) d.showModal();
    // a dialog to read (details): it opens at its top, focus on its title
    if (props.focusTitle) titleRef.current?.focus();
    const cancel = (e: Event) => {
      e.preventDefault();
      props.onClose();
    };
    d?.addEventListener('cancel', cancel);
    return () => {
      d?.removeEventListener('cancel', cancel);
      if (d?.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  // Tab and Shift+Tab go round inside the dialog (a native modal lets focus leave to the browser's own UI)
  const trap = (e: KeyboardEvent) => {
    if (e.key !== 'Tab' || !ref.current) return;
    const all = [...ref.current.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter(
      (el) => !el.hasAttribute('disabled') && el.offsetParent !== null,
    );
    if (all.length === 0) return;
    const first = all[0];
    const last = all[all.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return (
    <dialog ref={ref} aria-labelledby={titleId} class={props.wide ? 'wide' : undefined} onKeyDown={trap}>
      <h2 id={titleId} ref={titleRef} tabIndex={props.focusTitle ? -1 : undefined}>
        {props.title}
      </h2>
      {props.children}
    </dialog>
  );
}

/** An error told in words, announced by screen readers. */
export function ErrorMessage(props: { text: string | null }) {
  if (!props.text) return null;
  return (
    <p role="alert" class="error">
      {props.text}
    </p>
  );
}

/** A confirmation dialog: one action button and Cancel; a failure is shown in the dialog. */
export function Confirm(props: { title: string; text: string; action: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <p>{props.text}</p>
      <ErrorMessage text={error} />
      <div class="buttons">
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await props.onConfirm();
              props.onClose();
            } catch (err) {
              setError(errorText(err));
              setBusy(false);
            }
          }}
        >
          {props.action}
        </button>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}

export interface TabSpec {
  id: string;
  label: string;
}

/** WAI-ARIA tabs: arrow keys move between tabs, Home/End jump, the panel follows. */
export function Tabs(props: { tabs: TabSpec[]; selected: string; onSelect: (id: string) => void; children: ComponentChildren }) {
  const listRef = useRef<HTMLDivElement>(null);
  const move = (e: KeyboardEvent, index: number) => {
    const n = props.tabs.length;
    let next = -1;
    if (e.key === 'ArrowRight') next = (index + 1) % n;
    else if (e.key === 'ArrowLeft') next = (index - 1 + n) % n;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = n - 1;
    if (next < 0) return;
    e.preventDefault();
    props.onSelect(props.tabs[next].id);
    listRef.current?.querySelectorAll<HTMLButtonElement>('[role="tab"]')[next]?.focus();
  };
  return (
    <>
      <div role="tablist" aria-label="Console sections" ref={listRef} class="tabs">
        {props.tabs.map((t, i) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-controls={`panel-${t.id}`}
            aria-selected={props.selected === t.id}
            tabIndex={props.selected === t.id ? 0 : -1}
            onClick={() => props.onSelect(t.id)}
            onKeyDown={(e) => move(e, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${props.selected}`} aria-labelledby={`tab-${props.selected}`} tabIndex={0} class="panel">
        {props.children}
      </div>
    </>
  );
}

/** A list the admin API answers at `path` under `key`, loaded on mount; `reload` fetches it again. */
export function useAdminList<T>(path: string, key: string): { items: T[] | null; error: string | null; reload: () => Promise<void> } {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = async () => {
    try {
      setItems((await getJson<Record<string, T[]>>(adminApi(path)))[key]);
      setError(null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  useEffect(() => {
    void reload();
  }, []);
  return { items, error, reload };
}
