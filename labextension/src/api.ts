/**
 * The REST client and the push channel of the ChatML server extension (`chatml_lab/server`).
 * The JSON shapes are the ones `chatml_lab/server/serialize.py` writes.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { ChatEvent } from './events';

export interface PendingApproval {
  id: string;
  tool: string;
  input: any;
  seq: number;
}

export interface SessionInfo {
  id: string;
  name: string;
  workspace: string;
  workspace_id: string;
  branch: string;
  worktree_path: string;
  worktree_relative: string | null;
  base_ref: string;
  created_at: number;
  updated_at: number;
  priority: string;
  task_status: string;
  pinned: boolean;
  archived: boolean;
  archive_summary: string | null;
  pr_status: string;
  pr_number: number | null;
  pr_url: string | null;
  agent_backend: string | null;
  model: string | null;
  permission_mode: string;
  cost_usd: number | null;
  ahead: number | null;
  behind: number | null;
  drift_checked_at: number | null;
  health: string;
  agent_state: string;
  /** The machine holding the worktree (issue 13); null before machines were recorded. */
  machine: string | null;
  /** Who owns the session (issue 13): only they and whom they share it with may change it. */
  owner: string;
  pending_approvals: PendingApproval[];
  checks?: string | null;
}

export interface AttentionItem {
  session: string;
  name: string;
  workspace: string;
  kind: string;
  reason: string;
  also: string[];
  priority: string;
  pinned: boolean;
  agent_state: string;
  rank: number;
}

export interface Workspace {
  id: string;
  name: string;
  path: string;
  relative: string | null;
  default_branch: string;
}

export interface Backend {
  name: string;
  available: boolean;
  reason: string | null;
  scripted: boolean;
}

export interface Backends {
  backends: Backend[];
  default: string | null;
  default_reason: string | null;
}

export interface Handshake {
  version: string;
  schema_version: number;
  compatible: boolean;
  message: string;
}

export interface Notice {
  kind: string;
  level: 'info' | 'warning' | 'error' | 'success';
  session: string;
  name: string;
  message: string;
}

/** An error answered by the server: its one-line message and HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/** Call `/chatml/api/<path>`; resolve with the JSON answer or reject with an {@link ApiError}. */
export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'chatml', 'api', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const message =
      response.status === 404 && !data.error
        ? 'the ChatML server extension is not running on this Jupyter server'
        : data.error || response.statusText;
    throw new ApiError(message, response.status);
  }
  return data as T;
}

/** POST (or PATCH, DELETE) a JSON body. */
export function send<T>(path: string, body: object = {}, method = 'POST'): Promise<T> {
  return request<T>(path, { method, body: JSON.stringify(body) });
}

type Listener = (events: ChatEvent[]) => void;

/**
 * The sessions, the attention queue and each watched session's events, kept current by the
 * server's push channel (one websocket; the server polls the database centrally).
 */
export class ChatMLModel {
  sessions: SessionInfo[] = [];
  attention: AttentionItem[] = [];
  connected = false;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get notice(): ISignal<this, Notice> {
    return this._notice;
  }

  get connectionChanged(): ISignal<this, boolean> {
    return this._connection;
  }

  session(id: string): SessionInfo | undefined {
    return this.sessions.find(s => s.id === id);
  }

  /** Add or replace one session (a REST answer can arrive before the push channel's list). */
  upsert(session: SessionInfo): void {
    const others = this.sessions.filter(s => s.id !== session.id);
    this.sessions = [...others, session];
    this._changed.emit();
  }

  /** Open the websocket (and reopen it, with back-off, whenever it drops). */
  connect(): void {
    if (this._disposed) {
      return;
    }
    const settings = ServerConnection.makeSettings();
    let url = URLExt.join(settings.wsUrl, 'chatml', 'api', 'stream');
    if (settings.token) {
      url += `?token=${encodeURIComponent(settings.token)}`;
    }
    const socket = new settings.WebSocket(url);
    this._socket = socket;
    socket.onopen = () => {
      this._retry = 500;
      this._setConnected(true);
      for (const [id, cursor] of this._cursors) {
        this._write({ type: 'subscribe', session: id, after: cursor });
      }
    };
    socket.onmessage = msg => this._receive(JSON.parse(String(msg.data)));
    socket.onclose = () => {
      this._setConnected(false);
      if (!this._disposed) {
        window.setTimeout(() => this.connect(), this._retry);
        this._retry = Math.min(this._retry * 2, 10000);
      }
    };
  }

  /** Receive the events of `sessionId` after `after`, then each new one as it is written. */
  watch(sessionId: string, listener: Listener, after = 0): () => void {
    let set = this._listeners.get(sessionId);
    if (!set) {
      set = new Set();
      this._listeners.set(sessionId, set);
      this._cursors.set(sessionId, after);
      this._write({ type: 'subscribe', session: sessionId, after });
    }
    set.add(listener);
    return () => {
      const current = this._listeners.get(sessionId);
      current?.delete(listener);
      if (current && current.size === 0) {
        this._listeners.delete(sessionId);
        this._cursors.delete(sessionId);
        this._write({ type: 'unsubscribe', session: sessionId });
      }
    };
  }

  dispose(): void {
    this._disposed = true;
    this._socket?.close();
  }

  private _write(message: object): void {
    if (this._socket && this._socket.readyState === WebSocket.OPEN) {
      this._socket.send(JSON.stringify(message));
    }
  }

  private _setConnected(value: boolean): void {
    if (this.connected !== value) {
      this.connected = value;
      this._connection.emit(value);
    }
  }

  private _receive(message: any): void {
    switch (message.type) {
      case 'sessions':
        this.sessions = message.sessions;
        this.attention = message.attention;
        this._changed.emit();
        break;
      case 'events': {
        const events = message.events as ChatEvent[];
        if (events.length) {
          this._cursors.set(message.session, events[events.length - 1].seq);
        }
        for (const listener of this._listeners.get(message.session) ?? []) {
          listener(events);
        }
        break;
      }
      case 'notice':
        this._notice.emit(message as Notice);
        break;
      case 'error':
        console.warn('ChatML push channel:', message.error);
        break;
      default:
        break;
    }
  }

  private _socket: WebSocket | null = null;
  private _retry = 500;
  private _disposed = false;
  private _listeners = new Map<string, Set<Listener>>();
  private _cursors = new Map<string, number>();
  private _changed = new Signal<this, void>(this);
  private _notice = new Signal<this, Notice>(this);
  private _connection = new Signal<this, boolean>(this);
}
