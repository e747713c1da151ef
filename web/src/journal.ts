/**
 * The Journal panel (#journal): short notes per room with their time
 * (GET /api/journal), newest first, and an add form for operators
 * (POST /api/journal). The history chart draws the same notes as markers.
 */
import './journal.css';
import type { Panel, PanelContext, Role } from './shell.js';
import { el, formatWhen } from './when.js';

/** A note as GET /api/journal gives it. */
export interface JournalEntry {
  id: number;
  time: number;
  location: string;
  cluster?: string | null;
  text: string;
  by: string;
}

/** Longest note the API takes. */
const MAX_TEXT = 2000;
/** Notes shown per room. */
const SHOWN = 20;
const ALL = '';

class JournalPanel {
  readonly #ctx: PanelContext;
  readonly #room = el('select', 'journal-room');
  readonly #list = el('ul', 'journal-list');
  readonly #form = el('form', 'journal-form');
  readonly #text = el('textarea', 'journal-text');
  readonly #add = el('button', 'journal-add', 'Add note');
  readonly #formStatus = el('p', 'journal-form-status');
  readonly #hint = el(
    'p',
    'journal-hint muted',
    'Adding notes needs an operator token (enter it in the Control panel).',
  );
  readonly #stops: Array<() => void> = [];
  #timer: number | undefined;
  #entries: JournalEntry[] = [];
  #error = '';

  constructor(root: HTMLElement, ctx: PanelContext) {
    this.#ctx = ctx;
    root.hidden = false;
    const rooms = [...new Set(ctx.catalogue.map((s) => s.location))];
    const head = el('div', 'journal-head');
    const pick = el('label', 'journal-pick', 'Room ');
    this.#room.add(new Option('All rooms', ALL));
    for (const r of rooms) this.#room.add(new Option(r, r));
    if (rooms.length === 1) this.#room.value = rooms[0] as string;
    this.#room.onchange = () => void this.load();
    pick.append(this.#room);
    head.append(el('h2', undefined, 'Journal'), pick);

    const label = el('label', 'journal-label', 'New note');
    label.htmlFor = 'journal-text';
    this.#text.id = 'journal-text';
    this.#text.maxLength = MAX_TEXT;
    this.#text.rows = 2;
    this.#text.placeholder = 'e.g. Defoliated, raised lights to 60 cm, flushed bench 2';
    this.#add.type = 'submit';
    this.#form.append(label, this.#text, this.#add, this.#formStatus);
    this.#form.onsubmit = (ev) => {
      ev.preventDefault();
      void this.#submit();
    };
    root.replaceChildren(head, this.#form, this.#hint, this.#list);
    this.#stops.push(ctx.onRole((r) => this.#showForm(r)));
    this.#timer = window.setInterval(() => void this.load(), 60_000);
    void this.load();
  }

  stop(): void {
    window.clearInterval(this.#timer);
    for (const s of this.#stops) s();
  }

  #showForm(r: Role): void {
    this.#form.hidden = r !== 'operator';
    this.#hint.hidden = r === 'operator';
  }

  async load(): Promise<void> {
    const room = this.#room.value;
    const q = new URLSearchParams({ limit: String(SHOWN) });
    if (room) q.set('location', room);
    try {
      const r = await this.#ctx.api.get<{ entries: JournalEntry[] }>(`/api/journal?${q}`);
      this.#entries = r.entries;
      this.#error = '';
    } catch (err) {
      this.#error = `The journal could not be loaded: ${(err as Error).message}`;
    }
    this.render();
  }

  render(now = Date.now()): void {
    if (this.#error) {
      this.#list.replaceChildren(el('li', 'journal-error', this.#error));
      return;
    }
    if (this.#entries.length === 0) {
      this.#list.replaceChildren(el('li', 'journal-empty muted', 'No notes yet.'));
      return;
    }
    const all = this.#room.value === ALL;
    this.#list.replaceChildren(
      ...this.#entries.map((e) => {
        const li = el('li', 'journal-entry');
        li.dataset.id = String(e.id);
        const meta = el('div', 'journal-meta');
        const time = el('time', 'journal-when', formatWhen(e.time, now));
        time.dateTime = new Date(e.time).toISOString();
        meta.append(time);
        if (all || e.cluster) meta.append(el('span', 'journal-where', all ? place(e) : (e.cluster ?? '')));
        meta.append(el('span', 'journal-by', e.by));
        li.append(meta, el('p', 'journal-note', e.text));
        return li;
      }),
    );
  }

  async #submit(): Promise<void> {
    const text = this.#text.value.trim();
    const location = this.#room.value || this.#ctx.catalogue[0]?.location;
    if (!text) {
      this.#formStatus.textContent = 'Write a note first.';
      return;
    }
    if (!location) return;
    if (this.#room.value === ALL) {
      this.#formStatus.textContent = 'Choose the room the note is about.';
      this.#room.focus();
      return;
    }
    this.#add.disabled = true;
    this.#formStatus.textContent = 'Saving…';
    try {
      await this.#ctx.api.send('POST', '/api/journal', { location, text });
      this.#text.value = '';
      this.#formStatus.textContent = 'Saved.';
      await this.load();
    } catch (err) {
      this.#formStatus.textContent = `Not saved: ${(err as Error).message}`;
    } finally {
      this.#add.disabled = false;
    }
  }
}

const place = (e: JournalEntry) => (e.cluster ? `${e.location} · ${e.cluster}` : e.location);

/** Mounts the Journal panel into `#journal`. */
export function mountJournal(root: HTMLElement, ctx: PanelContext): Panel {
  return new JournalPanel(root, ctx);
}
