import { ConfigError } from '../errors.js';
import type { AdminMessage, AdminReply } from '../admin-message.js';
import { parseAdminMessage } from '../admin-message.js';
import type { HeartbeatInfo, LiveInstance } from '../presence.js';
import {
  FABRIC_LAYOUT as L,
  FileStore,
  decodeName,
  encodeName,
  msLeft,
  type Claimed,
  type FileStoreOptions,
} from './files.js';

/** A heartbeat file. */
interface HeartbeatFile {
  expires_at: string;
  info: HeartbeatInfo;
}

/** An identity file: the record and how it was written, for the replay. */
export interface IdentityFile {
  expires_at: string;
  written_at: string;
  seq: string;
  /** `write` replaces the record; `touch` merges `fields` (and keeps `first_seen`/`seen_count`). */
  op: 'write' | 'touch';
  /** What the caller passed (for `touch`, only its fields). */
  fields: Record<string, unknown>;
  /** The record as readers see it. */
  data: Record<string, unknown>;
}

/** One identity file taken for replay. */
export interface ClaimedIdentity extends Claimed<IdentityFile> {
  scope: string;
  id: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asIdentity(v: unknown): IdentityFile | null {
  return isObject(v) && isObject(v.data) && typeof v.expires_at === 'string' ? (v as unknown as IdentityFile) : null;
}

/**
 * Heartbeats, identities and admin messages as files (the layout is in
 * `files.ts` and docs/fallback.md). Readers never return an expired record.
 */
export class FabricFiles {
  readonly store: FileStore;

  constructor(options: Partial<FileStoreOptions> & Pick<FileStoreOptions, 'dir'>) {
    this.store = new FileStore(options);
  }

  get dir(): string {
    return this.store.options.dir;
  }

  #now(): number {
    return this.store.options.now();
  }

  // ── heartbeats ────────────────────────────────────────────────────────
  heartbeatFile(instance: string): string {
    return this.store.path(L.heartbeats, `${encodeName(instance)}.json`);
  }

  async writeHeartbeat(info: HeartbeatInfo, ttlMs: number): Promise<void> {
    const rec: HeartbeatFile = { expires_at: new Date(this.#now() + ttlMs).toISOString(), info };
    await this.store.write(this.heartbeatFile(info.instance), rec);
  }

  async removeHeartbeat(instance: string): Promise<void> {
    await this.store.remove(this.heartbeatFile(instance));
  }

  /** The unexpired heartbeat files, sorted by instance. */
  async listHeartbeats(): Promise<LiveInstance[]> {
    const dir = this.store.path(L.heartbeats);
    const now = this.#now();
    const out: LiveInstance[] = [];
    for (const name of await this.store.names(dir)) {
      const v = (await this.store.read(`${dir}/${name}`)) as Partial<HeartbeatFile> | null;
      const left = msLeft(v?.expires_at, now);
      if (!v || left <= 0 || !isObject(v.info)) continue;
      out.push({ instance: decodeName(name), info: v.info, ttlMs: left, source: 'file' });
    }
    return out.sort((a, b) => a.instance.localeCompare(b.instance));
  }

  // ── identities ────────────────────────────────────────────────────────
  identityFile(scope: string, id: string): string {
    if (scope === '' || scope.includes(':')) throw new ConfigError(`bad identity scope "${scope}"`);
    return this.store.path(L.identities, encodeName(scope), `${encodeName(id)}.json`);
  }

  /** The unexpired record, or `null`. */
  async readIdentity(scope: string, id: string): Promise<IdentityFile | null> {
    const rec = asIdentity(await this.store.read(this.identityFile(scope, id)));
    return rec && msLeft(rec.expires_at, this.#now()) > 0 ? rec : null;
  }

  /** Replaces the record. */
  async writeIdentity(scope: string, id: string, data: object, ttlSeconds: number): Promise<void> {
    const now = this.#now();
    const rec: IdentityFile = {
      expires_at: new Date(now + ttlSeconds * 1000).toISOString(),
      written_at: new Date(now).toISOString(),
      seq: this.store.nextSeq(),
      op: 'write',
      fields: { ...data },
      data: { ...data },
    };
    await this.store.write(this.identityFile(scope, id), rec);
  }

  /**
   * Merges `fields` into the file record as `Registry.touch` does in Redis
   * (`first_seen` once, `last_seen`, `seen_count`). Returns the previous data.
   */
  async touchIdentity(
    scope: string,
    id: string,
    fields: object,
    ttlSeconds: number,
    at: Date,
  ): Promise<Record<string, unknown> | null> {
    const prev = await this.readIdentity(scope, id);
    const iso = at.toISOString();
    const data: Record<string, unknown> = { ...(prev?.data ?? {}), ...fields };
    data.first_seen = prev?.data.first_seen ?? iso;
    data.last_seen = iso;
    data.seen_count = (Number(prev?.data.seen_count) || 0) + 1;
    const rec: IdentityFile = {
      expires_at: new Date(this.#now() + ttlSeconds * 1000).toISOString(),
      written_at: iso,
      seq: this.store.nextSeq(),
      op: prev?.op === 'write' ? 'write' : 'touch',
      fields: prev?.op === 'write' ? data : { ...(prev?.fields ?? {}), ...fields },
      data,
    };
    await this.store.write(this.identityFile(scope, id), rec);
    return prev ? prev.data : null;
  }

  async removeIdentity(scope: string, id: string): Promise<boolean> {
    const had = (await this.readIdentity(scope, id)) !== null;
    await this.store.remove(this.identityFile(scope, id));
    return had;
  }

  /** The unexpired records of a scope, sorted by id. */
  async listIdentities(scope: string): Promise<{ id: string; rec: IdentityFile }[]> {
    const dir = this.store.path(L.identities, encodeName(scope));
    const now = this.#now();
    const out: { id: string; rec: IdentityFile }[] = [];
    for (const name of await this.store.names(dir)) {
      const rec = asIdentity(await this.store.read(`${dir}/${name}`));
      if (rec && msLeft(rec.expires_at, now) > 0) out.push({ id: decodeName(name), rec });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Claims every identity file (all scopes) for a replay, in the order
   * they were written. Expired ones are claimed too, with `value` null.
   */
  async claimIdentities(): Promise<ClaimedIdentity[]> {
    const root = this.store.path(L.identities);
    const now = this.#now();
    const out: ClaimedIdentity[] = [];
    for (const sdir of await this.store.dirs(root)) {
      for (const name of await this.store.names(`${root}/${sdir}`)) {
        const c = await this.store.claim(`${root}/${sdir}`, name, (v) => {
          const rec = asIdentity(v);
          return rec && msLeft(rec.expires_at, now) > 0 ? rec : null;
        });
        if (c) out.push({ ...c, scope: decodeName(sdir), id: decodeName(name) });
      }
    }
    return out.sort((a, b) => ((a.value?.seq ?? '') < (b.value?.seq ?? '') ? -1 : 1));
  }

  // ── admin messages ────────────────────────────────────────────────────
  adminDir(instance: string): string {
    return this.store.path(L.admin, encodeName(instance));
  }

  /** Queues a message for `instance`; returns the file's `<seq>` name. */
  async enqueueAdmin(instance: string, message: AdminMessage): Promise<string> {
    const seq = this.store.nextSeq();
    await this.store.write(`${this.adminDir(instance)}/${seq}.json`, message);
    return seq;
  }

  /** How many messages are queued for `instance`. */
  async adminQueued(instance: string): Promise<number> {
    return (await this.store.names(this.adminDir(instance))).length;
  }

  /**
   * Claims the queued messages of `instance`, oldest first. `value` is
   * null for a file that is not an admin message (`text` says what it was).
   */
  async *takeAdmin(instance: string, maxBytes: number): AsyncGenerator<Claimed<AdminMessage>> {
    const dir = this.adminDir(instance);
    for (const name of await this.store.names(dir)) {
      const c = await this.store.claim(dir, name, (v) => {
        const m = parseAdminMessage(JSON.stringify(v), maxBytes);
        return typeof m === 'string' ? null : m;
      });
      if (c) yield c;
    }
  }

  replyFile(id: string): string {
    return this.store.path(L.replies, `${encodeName(id)}.json`);
  }

  async writeReply(reply: AdminReply, ttlSeconds: number): Promise<void> {
    const rec = { expires_at: new Date(this.#now() + ttlSeconds * 1000).toISOString(), reply };
    await this.store.write(this.replyFile(reply.id), rec);
  }

  /** The reply to message `id` (removed once read), or `null` when none yet. */
  async takeReply(id: string): Promise<AdminReply | null> {
    const c = await this.store.claim(this.store.path(L.replies), `${encodeName(id)}.json`, (v) =>
      isObject(v) && isObject(v.reply) ? (v.reply as unknown as AdminReply) : null,
    );
    if (!c) return null;
    await c.done();
    return c.value;
  }

  /** Removes expired files of every kind and gives back stale claims; returns the number removed. */
  sweep(): Promise<number> {
    const now = this.#now();
    return this.store.sweep((v) => msLeft((v as { expires_at?: unknown }).expires_at, now) <= 0);
  }
}
