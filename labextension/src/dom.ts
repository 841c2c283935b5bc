/** A tiny element builder: the sidebar and chat are plain DOM, re-rendered from the model. */

type Child = Node | string | null | undefined | false;

export function h(
  tag: string,
  attrs: { [key: string]: any } = {},
  ...children: (Child | Child[])[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'className') {
      node.className = value;
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child);
  }
  return node;
}

/** Labels that read the same everywhere: `in_progress` -> `in progress`. */
export function label(value: string | null | undefined): string {
  return (value ?? '').replace(/_/g, ' ');
}

/** `Write fizzbuzz.py`, `Bash git commit -m …`: what a tool call does, in one line. */
export function describe(tool: string, input: any): string {
  if (input && typeof input === 'object') {
    for (const key of ['file_path', 'command', 'pattern', 'path', 'url']) {
      if (input[key]) {
        const text = String(input[key]).replace(/\s+/g, ' ');
        return `${tool} ${text.length > 60 ? text.slice(0, 59) + '…' : text}`;
      }
    }
  }
  return tool;
}
