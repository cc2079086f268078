/** The button of one file tab, shared by the room's editor and the replay. */
import { h, type Attrs } from './dom.js';

export interface TabDot {
  color: string;
  title: string;
}

/** `attrs` adds the view's own behaviour (handlers, title, tabindex) to the common tab. */
export function fileTabButton(path: string, selected: boolean, dots: TabDot[], attrs: Attrs): HTMLButtonElement {
  return h(
    'button',
    {
      type: 'button',
      role: 'tab',
      class: 'file-tab-name',
      'aria-selected': selected ? 'true' : 'false',
      'data-path': path,
      ...attrs,
    },
    path,
    ...dots.map((d) => h('span', { class: 'presence-dot', style: `background:${d.color}`, title: d.title })),
  );
}
