/** The "New session" dialog: workspace, name, prompt, agent, permission mode, priority. */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { Backends, Workspace } from './api';
import { h } from './dom';

export const PERMISSION_MODES = [
  ['default', 'ask before Write, Edit and Bash'],
  ['accept_edits', 'ask before Bash only'],
  ['bypass', 'never ask'],
  ['plan', 'read only']
];
export const PRIORITIES = ['none', 'low', 'medium', 'high', 'urgent'];

export interface NewSessionValues {
  workspace: string;
  name: string;
  prompt: string;
  agent: string;
  permission_mode: string;
  priority: string;
}

class NewSessionForm extends Widget implements Dialog.IBodyWidget<NewSessionValues> {
  constructor(workspaces: Workspace[], backends: Backends, initial: Partial<NewSessionValues>, error: string) {
    super();
    this.addClass('jp-ChatML-form');
    const field = (text: string, control: HTMLElement, hint?: string) =>
      h('label', {}, h('span', { className: 'jp-ChatML-label' }, text), control, hint ? h('small', {}, hint) : null);
    this._workspace = h('input', {
      name: 'workspace',
      list: 'chatml-workspaces',
      placeholder: 'workspace name or repository path',
      value: initial.workspace ?? (workspaces.length === 1 ? workspaces[0].name : '')
    }) as HTMLInputElement;
    this._name = h('input', { name: 'name', placeholder: 'from the prompt when empty', value: initial.name ?? '' }) as HTMLInputElement;
    this._prompt = h('textarea', { name: 'prompt', rows: 3, placeholder: 'what the agent should do (optional: it starts at once)' }) as HTMLTextAreaElement;
    this._prompt.value = initial.prompt ?? '';
    // With no configured model, the scripted demo agent is the one that works out of the box.
    const chosen =
      initial.agent ??
      backends.default ??
      backends.backends.find(b => b.available && b.scripted)?.name ??
      backends.backends.find(b => b.available)?.name ??
      '';
    this._agent = h(
      'select',
      { name: 'agent' },
      backends.backends.map(b =>
        h('option', { value: b.name, disabled: !b.available, selected: b.name === chosen, title: b.reason ?? '' }, b.available ? b.name + (b.scripted ? ' (demo)' : '') : `${b.name} (unavailable)`)
      )
    ) as HTMLSelectElement;
    this._mode = h(
      'select',
      { name: 'permission_mode' },
      PERMISSION_MODES.map(([value, text]) => h('option', { value, title: text, selected: value === (initial.permission_mode ?? 'default') }, value.replace('_', ' ')))
    ) as HTMLSelectElement;
    this._priority = h(
      'select',
      { name: 'priority' },
      PRIORITIES.map(p => h('option', { value: p, selected: p === (initial.priority ?? 'none') }, p))
    ) as HTMLSelectElement;
    const unavailable = backends.backends.filter(b => !b.available);
    const modeHint = h('small', {});
    const showMode = () => (modeHint.textContent = PERMISSION_MODES.find(([v]) => v === this._mode.value)?.[1] ?? '');
    this._mode.addEventListener('change', showMode);
    showMode();
    this.node.append(
      error ? h('div', { className: 'jp-ChatML-problem jp-ChatML-form-error' }, error) : '',
      h(
        'div',
        { className: 'jp-ChatML-form-row' },
        field('Workspace', this._workspace, workspaces.length ? undefined : 'no workspace yet: a git repository path'),
        field('Name', this._name)
      ),
      h('datalist', { id: 'chatml-workspaces' }, workspaces.map(w => h('option', { value: w.name }, w.path))),
      field('Prompt', this._prompt),
      h(
        'div',
        { className: 'jp-ChatML-form-row' },
        field('Agent', this._agent),
        h('label', {}, h('span', { className: 'jp-ChatML-label' }, 'Permission mode'), this._mode, modeHint),
        field('Priority', this._priority)
      ),
      unavailable.length
        ? h('small', { className: 'jp-ChatML-form-hint' }, unavailable.map(b => `${b.name}: ${b.reason}`).join(' · '))
        : ''
    );
  }

  getValue(): NewSessionValues {
    return {
      workspace: this._workspace.value.trim(),
      name: this._name.value.trim(),
      prompt: this._prompt.value,
      agent: this._agent.value,
      permission_mode: this._mode.value,
      priority: this._priority.value
    };
  }

  protected onAfterAttach(): void {
    (this._workspace.value ? this._prompt : this._workspace).focus();
  }

  private _workspace: HTMLInputElement;
  private _name: HTMLInputElement;
  private _prompt: HTMLTextAreaElement;
  private _agent: HTMLSelectElement;
  private _mode: HTMLSelectElement;
  private _priority: HTMLSelectElement;
}

/** Show the dialog; resolve with the values, or null when cancelled. */
export async function askNewSession(
  workspaces: Workspace[],
  backends: Backends,
  initial: Partial<NewSessionValues> = {},
  error = ''
): Promise<NewSessionValues | null> {
  const result = await showDialog({
    title: 'New ChatML session',
    body: new NewSessionForm(workspaces, backends, initial, error),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
    focusNodeSelector: 'textarea'
  });
  return result.button.accept && result.value ? result.value : null;
}
