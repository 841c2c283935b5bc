/**
 * A session's chat in the main area: streamed text, tool calls with their diffs and output,
 * approval requests with Approve/Deny, and a box to send the next message; Stop and Interrupt
 * in the header.
 */

import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ChatMLModel, SessionInfo, send } from './api';
import { h, describe, label } from './dom';
import { ChatEvent, EventType } from './events';

const OUTPUT_LIMIT = 4000;

/** Lines of a unified-looking diff for an Edit or Write call (empty for other tools). */
export function diffLines(tool: string, input: any): { sign: string; text: string }[] {
  if (!input || typeof input !== 'object') {
    return [];
  }
  const lines = (text: unknown) => String(text ?? '').replace(/\n$/, '').split('\n');
  if (tool === 'Edit' || tool === 'MultiEdit') {
    const edits = tool === 'MultiEdit' && Array.isArray(input.edits) ? input.edits : [input];
    return edits.flatMap((edit: any) => [
      ...lines(edit.old_string).map(text => ({ sign: '-', text })),
      ...lines(edit.new_string).map(text => ({ sign: '+', text }))
    ]);
  }
  if (tool === 'Write') {
    return lines(input.content).map(text => ({ sign: '+', text }));
  }
  return [];
}

function diffBlock(tool: string, input: any): HTMLElement | null {
  const lines = diffLines(tool, input);
  if (!lines.length) {
    return null;
  }
  return h('pre', { className: 'jp-ChatML-diff' }, lines.map(l => h('div', { className: l.sign === '+' ? 'jp-mod-add' : 'jp-mod-del' }, `${l.sign} ${l.text}`)));
}

/** What an approval request would do: a diff for edits, the command for Bash, else its input. */
function requestDetail(tool: string, input: any): HTMLElement {
  if (tool === 'Bash' && input && typeof input.command === 'string') {
    return h('pre', { className: 'jp-ChatML-command' }, `$ ${input.command}`);
  }
  return diffBlock(tool, input) ?? h('pre', { className: 'jp-ChatML-input-json' }, JSON.stringify(input, null, 2));
}

export class ChatPanel extends Widget {
  constructor(
    readonly sessionId: string,
    private model: ChatMLModel,
    private commands: CommandRegistry
  ) {
    super();
    this.addClass('jp-ChatML-chat');
    this.id = `chatml-chat-${sessionId}`;
    this.title.closable = true;
    this.title.label = model.session(sessionId)?.name ?? 'session';
    this._log = h('div', { className: 'jp-ChatML-log', role: 'log', 'aria-live': 'polite' });
    this._header = h('div', { className: 'jp-ChatML-chat-header' });
    this._input = h('textarea', {
      className: 'jp-ChatML-input',
      rows: 3,
      placeholder: 'Message the agent (Ctrl+Enter sends)'
    }) as HTMLTextAreaElement;
    this._input.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this._send();
      }
    });
    this._banner = h('div', { className: 'jp-ChatML-banner' });
    this.node.append(
      this._header,
      this._log,
      this._banner,
      h(
        'div',
        { className: 'jp-ChatML-compose' },
        this._input,
        h('button', { className: 'jp-ChatML-button jp-mod-accept jp-ChatML-send', onclick: () => void this._send() }, 'Send')
      )
    );
    model.changed.connect(this._renderHeader, this);
    this._renderHeader();
    this._unwatch = model.watch(sessionId, events => this.append(events));
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._unwatch();
    this.model.changed.disconnect(this._renderHeader, this);
    super.dispose();
  }

  protected onActivateRequest(_msg: Message): void {
    this._input.focus();
  }

  /** Render new events in order. */
  append(events: ChatEvent[]): void {
    const stick = this._log.scrollHeight - this._log.scrollTop - this._log.clientHeight < 40;
    for (const event of events) {
      if (event.seq <= this._last) {
        continue;
      }
      this._last = event.seq;
      this._render(event);
    }
    if (stick) {
      this._log.scrollTop = this._log.scrollHeight;
    }
  }

  private _render(event: ChatEvent): void {
    const d = event.data;
    const type: EventType = event.type;
    switch (type) {
      case 'user_message':
        this._streaming = null;
        this._add(h('div', { className: 'jp-ChatML-msg jp-mod-user' }, h('b', {}, 'You'), h('div', { className: 'jp-ChatML-text' }, d.text)));
        break;
      case 'assistant_delta':
        if (!this._streaming) {
          this._streaming = h('div', { className: 'jp-ChatML-text' });
          this._add(h('div', { className: 'jp-ChatML-msg jp-mod-assistant jp-mod-streaming' }, h('b', {}, 'Agent'), this._streaming));
        }
        this._streaming.textContent += d.text;
        break;
      case 'assistant_text': {
        const scripted = d.scripted ? h('span', { className: 'jp-ChatML-scripted', title: 'replayed by the scripted demo server, not written by a model' }, 'scripted') : null;
        if (this._streaming) {
          this._streaming.textContent = d.text;
          const box = this._streaming.parentElement!;
          box.classList.remove('jp-mod-streaming');
          if (scripted) {
            box.querySelector('b')?.after(scripted);
          }
        } else {
          this._add(h('div', { className: 'jp-ChatML-msg jp-mod-assistant' }, h('b', {}, 'Agent'), scripted, h('div', { className: 'jp-ChatML-text' }, d.text)));
        }
        this._streaming = null;
        break;
      }
      case 'thinking':
        this._add(h('details', { className: 'jp-ChatML-thinking' }, h('summary', {}, 'Thinking'), h('div', { className: 'jp-ChatML-text' }, d.text)));
        break;
      case 'tool_start': {
        this._streaming = null;
        const diff = diffBlock(d.tool, d.input);
        const card = h(
          'div',
          { className: 'jp-ChatML-tool', dataset: { tool: d.tool, id: d.id } },
          h('div', { className: 'jp-ChatML-tool-head' }, h('span', { className: 'jp-ChatML-tool-status' }, '…'), ' ', describe(d.tool, d.input)),
          diff ?? (d.tool === 'Bash' || d.tool === 'Read' ? null : h('pre', { className: 'jp-ChatML-input-json' }, JSON.stringify(d.input, null, 2)))
        );
        this._tools.set(d.id, card);
        this._add(card);
        break;
      }
      case 'tool_end': {
        const card = this._tools.get(d.id);
        const output = String(d.output ?? '');
        const pre = output
          ? h('details', { className: 'jp-ChatML-output' }, h('summary', {}, d.ok ? 'output' : 'error'), h('pre', {}, output.length > OUTPUT_LIMIT ? output.slice(0, OUTPUT_LIMIT) + '\n…' : output))
          : null;
        if (card) {
          card.classList.add(d.ok ? 'jp-mod-ok' : 'jp-mod-failed');
          card.querySelector('.jp-ChatML-tool-status')!.textContent = d.ok ? '✓' : '✗';
          if (pre) {
            card.append(pre);
          }
        } else if (pre) {
          this._add(pre);
        }
        break;
      }
      case 'approval_request': {
        const box = h(
          'div',
          { className: 'jp-ChatML-approval', dataset: { request: d.id } },
          h('div', {}, h('b', {}, 'The agent asks: '), describe(d.tool, d.input)),
          requestDetail(d.tool, d.input),
          h(
            'div',
            { className: 'jp-ChatML-actions' },
            h('button', { className: 'jp-ChatML-button jp-mod-accept jp-ChatML-approve', onclick: () => void this._answer(d.id, true) }, 'Approve'),
            h('button', { className: 'jp-ChatML-button jp-mod-warn jp-ChatML-deny', onclick: () => void this._answer(d.id, false) }, 'Deny')
          )
        );
        this._requests.set(d.id, box);
        this._add(box);
        break;
      }
      case 'approval_response': {
        const box = this._requests.get(d.id);
        const said = d.reason && !['approved', 'denied'].includes(String(d.reason)) ? `: ${d.reason}` : '';
        const text = `${d.approved ? 'Approved' : 'Denied'}${said}`;
        if (box) {
          // Answered requests collapse to one line.
          const what = box.querySelector('div')?.textContent?.replace('The agent asks: ', '') ?? '';
          box.replaceChildren(h('span', {}, `${text} — ${what}`));
          box.classList.add('jp-mod-answered', d.approved ? 'jp-mod-approved' : 'jp-mod-denied');
        } else {
          this._add(h('div', { className: 'jp-ChatML-line' }, text));
        }
        break;
      }
      case 'result': {
        const usage = d.usage ?? {};
        const tokens = (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
        const cost = d.cost_usd === null || d.cost_usd === undefined ? 'cost unknown' : `$${Number(d.cost_usd).toFixed(4)}`;
        this._streaming = null;
        this._add(h('div', { className: `jp-ChatML-line jp-ChatML-result${d.is_error ? ' jp-mod-error' : ''}` }, `turn ended · ${(d.duration_ms / 1000).toFixed(1)} s · ${tokens} tokens · ${cost}`));
        break;
      }
      case 'error':
        this._add(h('div', { className: 'jp-ChatML-line jp-mod-error' }, d.message));
        break;
      case 'state':
        this._state = d.agent_state;
        this._renderHeader();
        break;
      case 'setup_output':
        this._add(h('details', { className: 'jp-ChatML-output' }, h('summary', {}, `setup script ${d.script} exited ${d.exit_code}`), h('pre', {}, String(d.output))));
        break;
      case 'name_suggestion':
        this._add(h('div', { className: 'jp-ChatML-line' }, `named ${d.name}`));
        break;
      case 'archive_summary':
        this._add(h('div', { className: 'jp-ChatML-line' }, h('b', {}, 'Archive summary: '), d.summary));
        break;
      case 'notice':
        this._add(h('div', { className: 'jp-ChatML-line jp-mod-notice' }, d.message));
        break;
      case 'pr_update': {
        const checks = d.checks && d.checks !== 'none' ? `, checks ${d.checks}` : '';
        this._add(h('div', { className: 'jp-ChatML-line jp-mod-notice' }, `PR #${d.pr_number} ${d.pr_status}${checks}`));
        break;
      }
      default: {
        const never: never = type;
        this._add(h('div', { className: 'jp-ChatML-line' }, `unknown event ${never}`));
      }
    }
  }

  private _add(node: HTMLElement): void {
    this._log.append(node);
  }

  private _renderHeader(): void {
    const s: SessionInfo | undefined = this.model.session(this.sessionId);
    if (s) {
      this.title.label = s.name;
      this._state = s.agent_state;
    }
    const state = this._state;
    const working = state === 'running' || state === 'waiting';
    this._header.replaceChildren(
      h('span', { className: 'jp-ChatML-chat-name' }, s?.name ?? this.sessionId),
      h('span', { className: `jp-ChatML-dot jp-mod-${state}` }),
      h('span', { className: 'jp-ChatML-state' }, label(state)),
      h('span', { className: 'jp-ChatML-meta' }, s ? `${s.workspace} · ${s.branch} · ${s.agent_backend ?? 'default agent'} · ${label(s.permission_mode)}` : ''),
      h('span', { className: 'jp-ChatML-spacer' }),
      h('button', { className: 'jp-ChatML-button', title: 'Open the worktree in the file browser', onclick: () => this.commands.execute('chatml:open-worktree', { id: this.sessionId }) }, 'Files'),
      h('button', { className: 'jp-ChatML-button', disabled: !working, title: 'Stop the current turn; the conversation stays usable', onclick: () => this.commands.execute('chatml:interrupt', { id: this.sessionId }) }, 'Interrupt'),
      h('button', { className: 'jp-ChatML-button jp-mod-warn', disabled: !working, title: 'Stop the turn and let the runner exit', onclick: () => this.commands.execute('chatml:stop', { id: this.sessionId }) }, 'Stop')
    );
  }

  private async _send(): Promise<void> {
    const text = this._input.value;
    if (!text.trim()) {
      this._showError('Write a message first.');
      return;
    }
    try {
      await send(`sessions/${this.sessionId}/send`, { text });
      this._input.value = '';
      this._showError('');
    } catch (error) {
      this._showError((error as Error).message);
    }
  }

  private async _answer(request: string, approve: boolean): Promise<void> {
    try {
      await send(`sessions/${this.sessionId}/${approve ? 'approve' : 'deny'}`, { request_id: request });
      this._showError('');
    } catch (error) {
      this._showError((error as Error).message);
    }
  }

  private _showError(message: string): void {
    this._banner.textContent = message;
    this._banner.classList.toggle('jp-mod-visible', !!message);
  }

  private _log: HTMLElement;
  private _header: HTMLElement;
  private _banner: HTMLElement;
  private _input: HTMLTextAreaElement;
  private _streaming: HTMLElement | null = null;
  private _tools = new Map<string, HTMLElement>();
  private _requests = new Map<string, HTMLElement>();
  private _last = 0;
  private _state = 'idle';
  private _unwatch: () => void;
}
