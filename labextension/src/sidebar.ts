/**
 * The left sidebar "ChatML": the attention queue at the top, then every session grouped by task
 * status with its priority, pin, drift, PR (and checks) and live agent state.
 */

import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { AttentionItem, ChatMLModel, SessionInfo } from './api';
import { h, label } from './dom';

export const GROUPS = ['in_progress', 'in_review', 'backlog', 'done', 'cancelled'];

/** Short tags for the queue's kinds (text, not emoji: no font is needed to read them). */
const KIND_LABEL: { [kind: string]: string } = {
  approval: 'approve',
  crashed: 'crashed',
  unreachable: 'away',
  checks_failed: 'checks',
  conflict: 'conflict',
  health: 'worktree',
  behind: 'behind',
  merged: 'merged'
};

export class SessionsSidebar extends Widget {
  constructor(
    private model: ChatMLModel,
    private commands: CommandRegistry
  ) {
    super();
    this.addClass('jp-ChatML-sidebar');
    this.id = 'chatml-sidebar';
    this.title.caption = 'ChatML sessions';
    model.changed.connect(() => this.render(), this);
    model.connectionChanged.connect(() => this.render(), this);
    this.render();
  }

  /** A problem to show above everything (version mismatch, no server extension). */
  setProblem(message: string): void {
    this._problem = message;
    this.render();
  }

  render(): void {
    const sessions = this.model.sessions;
    const live = sessions.filter(s => !s.archived);
    const archived = sessions.filter(s => s.archived);
    const body = h(
      'div',
      { className: 'jp-ChatML-sidebar-body' },
      h(
        'div',
        { className: 'jp-ChatML-toolbar' },
        h('span', { className: 'jp-ChatML-title' }, 'ChatML'),
        h(
          'button',
          {
            className: 'jp-ChatML-button jp-mod-accept',
            title: 'New session (Alt+Shift+N)',
            onclick: () => this.commands.execute('chatml:new-session')
          },
          '+ New session'
        )
      ),
      this._problem ? h('div', { className: 'jp-ChatML-problem' }, this._problem) : null,
      this.model.connected ? null : h('div', { className: 'jp-ChatML-offline' }, 'connecting to the ChatML server…'),
      this._attention(this.model.attention),
      live.length === 0 && this.model.connected
        ? h(
            'div',
            { className: 'jp-ChatML-empty' },
            'No sessions yet: "+ New session" starts an agent in its own worktree and branch.'
          )
        : null,
      GROUPS.map(status => this._group(label(status), live.filter(s => s.task_status === status), status)),
      this._group('archived', archived, 'archived', true)
    );
    this.node.replaceChildren(body);
  }

  private _attention(items: AttentionItem[]): HTMLElement {
    return h(
      'section',
      { className: 'jp-ChatML-attention', 'aria-label': 'Needs you' },
      h('h3', {}, `Needs you (${items.length})`),
      items.length === 0
        ? h('div', { className: 'jp-ChatML-quiet' }, 'Nothing waits for you.')
        : h(
            'ol',
            {},
            items.map(item => {
              const session = this.model.session(item.session);
              const pending = session?.pending_approvals ?? [];
              return h(
                'li',
                {
                  className: `jp-ChatML-attention-item jp-mod-${item.kind}`,
                  dataset: { session: item.session, kind: item.kind },
                  title: [item.reason, ...item.also].join('\n'),
                  onclick: () => this.commands.execute('chatml:open-session', { id: item.session })
                },
                h(
                  'div',
                  { className: 'jp-ChatML-attention-head' },
                  h('span', { className: 'jp-ChatML-rank' }, String(item.rank)),
                  h('span', { className: 'jp-ChatML-name' }, item.name),
                  item.priority !== 'none' ? h('span', { className: `jp-ChatML-priority jp-mod-${item.priority}` }, item.priority) : null,
                  h('span', { className: `jp-ChatML-kind jp-mod-${item.kind}` }, KIND_LABEL[item.kind] ?? item.kind)
                ),
                h('div', { className: 'jp-ChatML-reason' }, item.reason),
                item.also.length ? h('div', { className: 'jp-ChatML-also' }, `also: ${item.also.join('; ')}`) : null,
                item.kind === 'approval' && pending.length === 1
                  ? h(
                      'span',
                      { className: 'jp-ChatML-actions' },
                      this._button('Approve', 'jp-mod-accept', () =>
                        this.commands.execute('chatml:approve', { id: item.session, request: pending[0].id })
                      ),
                      this._button('Deny', 'jp-mod-warn', () =>
                        this.commands.execute('chatml:deny', { id: item.session, request: pending[0].id })
                      )
                    )
                  : null
              );
            })
          )
    );
  }

  private _group(title: string, sessions: SessionInfo[], key: string, collapsed = false): HTMLElement | null {
    if (sessions.length === 0) {
      return null;
    }
    const open = this._open.has(key) ? this._open.get(key) : !collapsed;
    const details = h(
      'details',
      { className: 'jp-ChatML-group', dataset: { status: key }, open },
      h('summary', {}, `${title} (${sessions.length})`),
      h('ul', {}, sessions.map(s => this._row(s)))
    ) as HTMLDetailsElement;
    details.addEventListener('toggle', () => this._open.set(key, details.open));
    return details;
  }

  private _row(s: SessionInfo): HTMLElement {
    const drift =
      s.ahead === null || s.behind === null ? '' : `↑${s.ahead} ↓${s.behind}`;
    const pr = s.pr_number ? `#${s.pr_number} ${s.pr_status}` : s.pr_status !== 'none' ? s.pr_status : '';
    const checks = s.checks && s.checks !== 'none' ? s.checks : '';
    return h(
      'li',
      {
        className: `jp-ChatML-session jp-mod-state-${s.agent_state}`,
        dataset: { session: s.id },
        title: `${s.workspace} · ${s.machine ?? ''} · ${s.branch} · owner ${s.owner}${s.health !== 'ok' ? '\n' + s.health : ''}`,
        onclick: () => this.commands.execute('chatml:open-session', { id: s.id })
      },
      h(
        'span',
        {
          className: `jp-ChatML-pin${s.pinned ? ' jp-mod-pinned' : ''}`,
          title: s.pinned ? 'Unpin' : 'Pin',
          onclick: (e: Event) => {
            e.stopPropagation();
            this.commands.execute('chatml:toggle-pin', { id: s.id });
          }
        },
        s.pinned ? '★' : '☆'
      ),
      h('span', { className: `jp-ChatML-dot jp-mod-${s.agent_state}`, title: `agent ${s.agent_state}` }),
      h(
        'span',
        { className: 'jp-ChatML-row-main' },
        h('span', { className: 'jp-ChatML-name' }, s.name),
        h('span', { className: 'jp-ChatML-meta' }, `${s.workspace}${s.machine ? ' @ ' + s.machine : ''} · ${s.owner} · ${label(s.agent_state)}`)
      ),
      s.priority !== 'none' ? h('span', { className: `jp-ChatML-priority jp-mod-${s.priority}` }, s.priority) : null,
      drift ? h('span', { className: 'jp-ChatML-drift', title: `ahead/behind ${s.base_ref}` }, drift) : null,
      pr ? h('span', { className: `jp-ChatML-pr jp-mod-${s.pr_status}` }, pr) : null,
      checks ? h('span', { className: `jp-ChatML-checks jp-mod-${checks}`, title: `checks ${checks}` }, checks) : null
    );
  }

  private _button(text: string, cls: string, action: () => void): HTMLElement {
    return h(
      'button',
      {
        className: `jp-ChatML-button ${cls}`,
        onclick: (e: Event) => {
          e.stopPropagation();
          action();
        }
      },
      text
    );
  }

  private _problem = '';
  private _open = new Map<string, boolean>();
}
