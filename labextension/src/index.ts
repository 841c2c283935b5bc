/**
 * ChatML for JupyterLab: a left sidebar with the attention queue and every session, a chat per
 * session in the main area, "New session" in the command palette, and notifications — all over
 * the `chatml_lab.server` extension's REST API and push channel.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { LabIcon } from '@jupyterlab/ui-components';

import { ApiError, Backends, ChatMLModel, Handshake, Notice, SessionInfo, Workspace, request, send } from './api';
import { ChatPanel } from './chat';
import { askNewSession, NewSessionValues } from './dialog';
import { SCHEMA_VERSION } from './events';
import { SessionsSidebar } from './sidebar';
import { EXTENSION_VERSION } from './version';

const PLUGIN_ID = 'chatml-lab:plugin';
const CATEGORY = 'ChatML';

const chatmlIcon = new LabIcon({
  name: 'chatml:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm2 4v2h12V8H6zm0 4v2h8v-2H6z"/>' +
    '</g></svg>'
});

/** Check the server extension is there and of this labextension's version. */
async function handshake(): Promise<string> {
  try {
    const answer = await request<Handshake>(`version?client=${encodeURIComponent(EXTENSION_VERSION)}&schema=${SCHEMA_VERSION}`);
    return answer.compatible ? '' : answer.message;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return (
        'The ChatML server extension is not running on this Jupyter server: run ' +
        '`jupyter server extension enable chatml_lab.server` in its environment and restart JupyterLab.'
      );
    }
    return `Cannot reach the ChatML server extension: ${(error as Error).message}`;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'ChatML sessions, attention queue and chats in JupyterLab.',
  autoStart: true,
  requires: [],
  optional: [ICommandPalette, ILayoutRestorer, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const { commands, shell } = app;
    const model = new ChatMLModel();
    const sidebar = new SessionsSidebar(model, commands);
    sidebar.title.icon = chatmlIcon;
    shell.add(sidebar, 'left', { rank: 250 });
    restorer?.add(sidebar, 'chatml-sidebar');
    const tracker = new WidgetTracker<MainAreaWidget<ChatPanel>>({ namespace: 'chatml-chat' });

    void handshake().then(problem => {
      if (problem) {
        sidebar.setProblem(problem);
        Notification.error(problem, { autoClose: false });
      }
    });
    model.connect();

    const fail = (what: string) => (error: unknown) => {
      Notification.error(`ChatML: ${what}: ${(error as Error).message}`, { autoClose: 10000 });
    };
    const sessionArg = (args: any): string => String(args.id ?? '');
    const byId = (args: any): SessionInfo | undefined => model.session(sessionArg(args));

    const openSession = (id: string) => {
      const existing = tracker.find(w => w.content.sessionId === id);
      if (existing) {
        shell.activateById(existing.id);
        return existing;
      }
      const content = new ChatPanel(id, model, commands);
      const widget = new MainAreaWidget({ content });
      widget.id = `chatml-chat-${id}`;
      widget.title.icon = chatmlIcon;
      widget.title.label = content.title.label;
      content.title.changed.connect(() => (widget.title.label = content.title.label));
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    };

    const newSession = async (initial: Partial<NewSessionValues> = {}, error = ''): Promise<void> => {
      let workspaces: Workspace[];
      let backends: Backends;
      try {
        [workspaces, backends] = await Promise.all([
          request<{ workspaces: Workspace[] }>('workspaces').then(r => r.workspaces),
          request<Backends>('backends')
        ]);
      } catch (e) {
        fail('cannot open the new-session dialog')(e);
        return;
      }
      let values: NewSessionValues | null = null;
      let message = error;
      let start: Partial<NewSessionValues> = initial;
      for (;;) {
        values = await askNewSession(workspaces, backends, start, message);
        if (!values) {
          return;
        }
        try {
          const body: any = { ...values };
          for (const key of ['name', 'prompt'] as const) {
            if (!body[key]) {
              delete body[key];
            }
          }
          const created = await send<{ session: SessionInfo }>('sessions', body);
          model.upsert(created.session);
          openSession(created.session.id);
          Notification.success(`Session ${created.session.name} created on ${created.session.branch}`, { autoClose: 4000 });
          return;
        } catch (e) {
          message = (e as Error).message;
          start = values;
        }
      }
    };

    commands.addCommand('chatml:new-session', {
      label: 'New ChatML Session…',
      caption: 'Create a session: a worktree, a branch and an agent',
      icon: chatmlIcon,
      execute: () => newSession()
    });
    commands.addCommand('chatml:show-sidebar', {
      label: 'Show ChatML Sessions',
      execute: () => shell.activateById(sidebar.id)
    });
    commands.addCommand('chatml:open-session', {
      label: args => (args.id ? `Open Chat of ${byId(args)?.name ?? args.id}` : 'Open Chat'),
      execute: args => {
        openSession(sessionArg(args));
      }
    });
    commands.addCommand('chatml:open-worktree', {
      label: 'Open Worktree in the File Browser',
      execute: async args => {
        const s = byId(args);
        if (!s) {
          return;
        }
        if (s.archived) {
          Notification.warning(`${s.name} is archived: its worktree is removed until you unarchive it.`);
          return;
        }
        if (s.worktree_relative === null || !fileBrowser) {
          Notification.warning(
            `The worktree of ${s.name} is at ${s.worktree_path}, outside this server's root directory, so the ` +
              'file browser cannot show it: start JupyterLab from a folder that contains it, or set the ' +
              'worktrees base directory (`chatml settings --workspaces-dir DIR`) inside the root.',
            { autoClose: false }
          );
          return;
        }
        await fileBrowser.model.cd('/' + s.worktree_relative);
        shell.activateById(fileBrowser.id);
      }
    });
    commands.addCommand('chatml:toggle-pin', {
      label: args => (byId(args)?.pinned ? 'Unpin Session' : 'Pin Session'),
      execute: args => send(`sessions/${sessionArg(args)}`, { pinned: !byId(args)?.pinned }, 'PATCH').catch(fail('pin'))
    });
    commands.addCommand('chatml:set-priority', {
      label: args => String(args.priority ?? 'Set Priority'),
      isToggled: args => byId(args)?.priority === args.priority,
      execute: args => send(`sessions/${sessionArg(args)}`, { priority: args.priority }, 'PATCH').catch(fail('set priority'))
    });
    commands.addCommand('chatml:set-status', {
      label: args => String(args.status ?? 'Set Status').replace('_', ' '),
      isToggled: args => byId(args)?.task_status === args.status,
      execute: args => send(`sessions/${sessionArg(args)}`, { task_status: args.status }, 'PATCH').catch(fail('set status'))
    });
    for (const [name, label] of [
      ['sync', 'Sync Drift (fetch, ahead/behind)'],
      ['archive', 'Archive Session'],
      ['unarchive', 'Unarchive Session'],
      ['stop', 'Stop Agent'],
      ['interrupt', 'Interrupt Agent']
    ]) {
      commands.addCommand(`chatml:${name}`, {
        label,
        isVisible: args =>
          name === 'archive' ? !byId(args)?.archived : name === 'unarchive' ? !!byId(args)?.archived : true,
        execute: args => send(`sessions/${sessionArg(args)}/${name}`).catch(fail(label.toLowerCase()))
      });
    }
    commands.addCommand('chatml:delete', {
      label: 'Delete Session…',
      execute: async args => {
        const s = byId(args);
        if (!s || !window.confirm(`Delete ${s.name}: its worktree and branch ${s.branch}?`)) {
          return;
        }
        await send(`sessions/${s.id}`, {}, 'DELETE').catch(fail('delete'));
      }
    });
    commands.addCommand('chatml:approve', {
      label: 'Approve the Agent’s Request',
      execute: args => send(`sessions/${sessionArg(args)}/approve`, args.request ? { request_id: args.request } : {}).catch(fail('approve'))
    });
    commands.addCommand('chatml:deny', {
      label: 'Deny the Agent’s Request',
      execute: args => send(`sessions/${sessionArg(args)}/deny`, args.request ? { request_id: args.request } : {}).catch(fail('deny'))
    });

    palette?.addItem({ command: 'chatml:new-session', category: CATEGORY });
    palette?.addItem({ command: 'chatml:show-sidebar', category: CATEGORY });

    // Right-click on a session row: the session under the pointer.
    const hit = (): string => {
      const node = app.contextMenuHitTest(n => !!n.dataset.session);
      return node?.dataset.session ?? '';
    };
    const menuCommands = [
      'chatml:open-session', 'chatml:open-worktree', 'chatml:toggle-pin', 'chatml:sync',
      'chatml:archive', 'chatml:unarchive', 'chatml:delete'
    ];
    const proxy = (command: string) => `${command}:here`;
    for (const command of menuCommands) {
      commands.addCommand(proxy(command), {
        label: () => commands.label(command, { id: hit() }),
        isVisible: () => commands.isVisible(command, { id: hit() }),
        execute: () => commands.execute(command, { id: hit() })
      });
    }
    menuCommands.forEach((command, rank) =>
      app.contextMenu.addItem({ command: proxy(command), selector: '.jp-ChatML-sidebar [data-session]', rank })
    );

    // Notifications: approvals, finished turns, merged PRs, failing checks, crashes. An approval's
    // notification stays until the request is answered (here, in a notebook or from the CLI).
    const approvalToasts = new Map<string, string>();
    model.changed.connect(() => {
      for (const [session, toast] of approvalToasts) {
        if (!model.session(session)?.pending_approvals.length) {
          Notification.dismiss(toast);
          approvalToasts.delete(session);
        }
      }
    });
    model.notice.connect((_, notice: Notice) => {
      const open = { label: 'Open chat', callback: () => openSession(notice.session) };
      const actions =
        notice.kind === 'approval'
          ? [{ label: 'Approve', callback: () => void commands.execute('chatml:approve', { id: notice.session }), displayType: 'accent' as const }, open]
          : [open];
      const toast = Notification.emit(notice.message, notice.level, {
        autoClose: notice.level === 'info' || notice.level === 'success' ? 6000 : false,
        actions
      });
      if (notice.kind === 'approval') {
        const previous = approvalToasts.get(notice.session);
        if (previous) {
          Notification.dismiss(previous);
        }
        approvalToasts.set(notice.session, toast);
      }
    });
  }
};

export default plugin;
