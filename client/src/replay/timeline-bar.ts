/**
 * The replay's timeline: play/pause, speed, "skip idle", the scrubber with
 * the interview's markers (two lanes: what happened, and the candidate's
 * integrity signals), an edit-density strip, and the elapsed time.
 *
 * It only draws and reports intents; the page owns the clock. Positions are
 * on the timeline's own scale (idle gaps collapsed or not), in ms from the start.
 */
import type { MarkerKind } from '../../../shared/replay/index.js';
import { h } from '../dom.js';
import { formatClock, formatDuration } from './format.js';

export const SPEEDS = [0.5, 1, 2, 4, 8, 16, 32] as const;

export interface BarMarker {
  kind: MarkerKind;
  /** For signals: paste, blur, focus, hidden, visible. */
  variant?: string;
  /** On the timeline's scale. */
  position: number;
  /** Real ms since the first event (where a click seeks to). */
  time: number;
  epoch: number;
  label: string;
  seq: number;
}

export interface BarView {
  /** On the timeline's scale. */
  position: number;
  length: number;
  /** Real elapsed time, and the real length. */
  elapsed: number;
  duration: number;
  /** Epoch ms of the instant. */
  clock: number;
  playing: boolean;
}

export interface TimelineBarHandlers {
  seek(position: number): void;
  seekTime(realMs: number): void;
  togglePlay(): void;
  setSpeed(speed: number): void;
  setSkipIdle(on: boolean): void;
  setAuthorColours(on: boolean): void;
  copyLink(): void;
}

export interface TimelineBar {
  readonly element: HTMLElement;
  update(view: BarView): void;
  setMarkers(markers: BarMarker[], length: number): void;
  /** Positions of edits, for the density strip. */
  setDensity(positions: readonly number[], length: number): void;
  setLoading(text: string | null): void;
  setSpeed(speed: number): void;
  setSkipIdle(on: boolean): void;
  flash(text: string): void;
  /** Shows or hides the list of keyboard shortcuts (toggles without an argument). */
  toggleKeys(open?: boolean): void;
  /** Where idle gaps were collapsed, on the timeline's scale (drawn as breaks). */
  setGaps(positions: readonly number[]): void;
  /** Is a marker of this kind (or signal kind) shown, or filtered out in the legend? */
  shows(variant: string): boolean;
}

const KIND_LABEL: Record<string, string> = {
  chat: 'Chat',
  join: 'Joined',
  leave: 'Left',
  language: 'Language',
  file: 'File',
  run: 'Run',
  settings: 'Run setting',
  end: 'End',
  paste: 'Paste',
  burst: 'At once',
  blur: 'Focus lost',
  focus: 'Focus back',
  hidden: 'Tab hidden',
  visible: 'Tab back',
};

export function createTimelineBar(handlers: TimelineBarHandlers): TimelineBar {
  const play = h('button', { type: 'button', class: 'replay-play', 'data-testid': 'replay-play', 'aria-label': 'Play (Space)', title: 'Play (Space)' });
  const elapsed = h('span', { class: 'replay-elapsed', 'data-testid': 'replay-elapsed' }, '0:00');
  const total = h('span', { class: 'replay-total' }, '0:00');
  const clock = h('span', { class: 'replay-clock', title: 'Time of day at this instant' });
  const speed = h('select', { class: 'select replay-speed', 'aria-label': 'Playback speed', 'data-testid': 'replay-speed' });
  for (const s of SPEEDS) speed.append(h('option', { value: String(s) }, `${s}×`));
  const skip = h('input', { type: 'checkbox', 'data-testid': 'replay-skip-idle' });
  const colours = h('input', { type: 'checkbox', checked: true, 'data-testid': 'replay-colours' });
  const loading = h('span', { class: 'replay-loading', role: 'status', 'data-testid': 'replay-loading' });
  const keysButton = h('button', { type: 'button', class: 'button small', 'aria-expanded': 'false', 'aria-controls': 'replay-keys', 'data-testid': 'replay-keys', title: 'Keyboard shortcuts (?)' }, 'Keys');
  const keys = h(
    'div',
    { class: 'replay-keys', id: 'replay-keys', role: 'dialog', 'aria-label': 'Keyboard shortcuts', hidden: true },
    h(
      'dl',
      {},
      ...(
        [
          ['Space', 'Play or pause'],
          ['← →', '5 seconds back or on'],
          ['Shift + ← →', '30 seconds back or on'],
          [', .', 'One event back or on'],
          ['[ ]', 'Previous or next marker'],
          ['Home End', 'Start or end'],
          ['?', 'This list'],
        ] as const
      ).flatMap(([k, v]) => [h('dt', {}, ...k.split(' ').map((x) => (x === '+' ? ' + ' : h('kbd', {}, x)))), h('dd', {}, v)]),
    ),
  );
  keysButton.addEventListener('click', () => toggleKeys());
  function toggleKeys(open = keys.hidden): void {
    keys.hidden = !open;
    keysButton.setAttribute('aria-expanded', String(open));
  }
  const copy = h('button', { type: 'button', class: 'button small', 'data-testid': 'replay-copy-link', title: 'Copy a link to this instant (without your sign-in)' }, 'Copy link to this instant');

  const eventsLane = h('div', { class: 'replay-lane', 'data-lane': 'events' });
  const signalsLane = h('div', { class: 'replay-lane', 'data-lane': 'signals' });
  const density = h('canvas', { class: 'replay-density', 'aria-hidden': 'true' });
  const played = h('div', { class: 'replay-played' });
  const head = h('div', { class: 'replay-head' });
  const track = h(
    'div',
    { class: 'replay-track', role: 'slider', tabindex: '0', 'aria-label': 'Position in the interview', 'aria-valuemin': '0', 'data-testid': 'replay-track' },
    density,
    played,
    head,
  );
  const tip = h('div', { class: 'replay-tip', role: 'tooltip', hidden: true });
  const lanes = h(
    'div',
    { class: 'replay-lanes' },
    h('span', { class: 'replay-lane-name' }, 'Events'),
    eventsLane,
    h('span', { class: 'replay-lane-name' }, ''),
    track,
    h('span', { class: 'replay-lane-name' }, 'Integrity'),
    signalsLane,
    tip,
  );
  // The legend doubles as a filter: each entry shows or hides its markers (a long interview has many).
  const GROUPS: Array<{ key: string; kind: string; label: string; variants: string[] }> = [
    { key: 'chat', kind: 'chat', label: 'Chat', variants: ['chat'] },
    { key: 'join', kind: 'join', label: 'Join/leave', variants: ['join', 'leave'] },
    { key: 'language', kind: 'language', label: 'Language', variants: ['language'] },
    { key: 'file', kind: 'file', label: 'File', variants: ['file'] },
    { key: 'run', kind: 'run', label: 'Run', variants: ['run', 'settings'] },
    { key: 'paste', kind: 'signal', label: 'Paste', variants: ['paste'] },
    { key: 'burst', kind: 'burst', label: 'At once', variants: ['burst'] },
    { key: 'blur', kind: 'signal', label: 'Focus', variants: ['blur', 'focus'] },
    { key: 'hidden', kind: 'signal', label: 'Tab', variants: ['hidden', 'visible'] },
  ];
  const hidden = new Set<string>();
  const legend = h(
    'div',
    { class: 'replay-legend', role: 'group', 'aria-label': 'Markers shown' },
    ...GROUPS.map((g) => {
      const b = h(
        'button',
        { type: 'button', class: 'replay-legend-item', 'aria-pressed': 'true', 'data-group': g.key, title: `Show or hide ${g.label.toLowerCase()} markers` },
        h('span', { class: 'replay-marker legend', 'data-kind': g.kind, 'data-variant': g.key }),
        g.label,
      );
      b.addEventListener('click', () => {
        const on = b.getAttribute('aria-pressed') !== 'true';
        b.setAttribute('aria-pressed', String(on));
        for (const v of g.variants) {
          if (on) hidden.delete(v);
          else hidden.add(v);
          lanes.classList.toggle(`hide-${v}`, !on);
        }
      });
      return b;
    }),
  );
  const element = h(
    'section',
    { class: 'replay-timeline', 'aria-label': 'Timeline' },
    h(
      'div',
      { class: 'replay-controls' },
      play,
      h('span', { class: 'replay-time' }, elapsed, h('span', { class: 'muted' }, ' / '), total),
      clock,
      h('label', { class: 'inline-label' }, h('span', { class: 'visually-hidden' }, 'Speed'), speed),
      h('label', { class: 'replay-check', title: 'Gaps of more than 3 seconds with nothing happening take 3 seconds' }, skip, 'Skip idle'),
      h('label', { class: 'replay-check', title: "Tint each author's text in their colour" }, colours, 'Author colours'),
      loading,
      h('div', { class: 'spacer' }),
      legend,
      keysButton,
      copy,
    ),
    lanes,
    keys,
  );

  let length = 0;
  let dragging = false;
  let densityData: { positions: readonly number[]; length: number } = { positions: [], length: 0 };
  let gaps: readonly number[] = [];

  const positionAt = (clientX: number): number => {
    const r = track.getBoundingClientRect();
    return Math.max(0, Math.min(1, (clientX - r.left) / r.width)) * length;
  };
  track.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    dragging = true;
    track.setPointerCapture(e.pointerId);
    track.focus();
    handlers.seek(positionAt(e.clientX));
  });
  track.addEventListener('pointermove', (e) => {
    if (dragging) handlers.seek(positionAt(e.clientX));
  });
  const stop = () => {
    dragging = false;
  };
  track.addEventListener('pointerup', stop);
  track.addEventListener('pointercancel', stop);

  play.addEventListener('click', () => handlers.togglePlay());
  speed.addEventListener('change', () => handlers.setSpeed(Number(speed.value)));
  skip.addEventListener('change', () => handlers.setSkipIdle(skip.checked));
  colours.addEventListener('change', () => handlers.setAuthorColours(colours.checked));
  copy.addEventListener('click', () => handlers.copyLink());

  const showTip = (marker: HTMLElement) => {
    tip.textContent = marker.dataset.tip ?? '';
    tip.hidden = false;
    const box = lanes.getBoundingClientRect();
    const m = marker.getBoundingClientRect();
    const x = Math.max(8, Math.min(box.width - 8, m.left + m.width / 2 - box.left));
    tip.style.left = `${x}px`;
    tip.style.top = `${m.top - box.top}px`;
    tip.classList.toggle('right', x > box.width * 0.7);
  };
  for (const lane of [eventsLane, signalsLane]) {
    lane.addEventListener('pointerover', (e) => {
      const m = (e.target as HTMLElement).closest<HTMLElement>('.replay-marker');
      if (m) showTip(m);
    });
    lane.addEventListener('pointerout', () => (tip.hidden = true));
    lane.addEventListener('focusin', (e) => {
      const m = (e.target as HTMLElement).closest<HTMLElement>('.replay-marker');
      if (m) showTip(m);
    });
    lane.addEventListener('focusout', () => (tip.hidden = true));
    lane.addEventListener('click', (e) => {
      const m = (e.target as HTMLElement).closest<HTMLElement>('.replay-marker');
      if (m) handlers.seekTime(Number(m.dataset.time));
    });
  }

  function drawDensity(): void {
    const { positions, length: len } = densityData;
    const width = track.clientWidth;
    const height = track.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = window.devicePixelRatio || 1;
    density.width = Math.round(width * ratio);
    density.height = Math.round(height * ratio);
    const ctx = density.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, density.width, density.height);
    if (len <= 0 || positions.length === 0) return;
    const buckets = new Array<number>(Math.max(1, Math.floor(width / 3))).fill(0);
    for (const p of positions) buckets[Math.min(buckets.length - 1, Math.floor((p / len) * buckets.length))]!++;
    const max = Math.max(...buckets);
    ctx.fillStyle = getComputedStyle(track).getPropertyValue('--density').trim() || 'rgba(47,111,235,0.35)';
    const w = density.width / buckets.length;
    buckets.forEach((n, i) => {
      if (n === 0) return;
      const bh = Math.max(1, (Math.sqrt(n / max) * density.height * 0.9) | 0);
      ctx.fillRect(i * w, density.height - bh, Math.max(1, w - ratio), bh);
    });
    // Collapsed idle gaps: a notch at the top edge, so a reviewer knows time was skipped there.
    ctx.fillStyle = getComputedStyle(track).getPropertyValue('--gap').trim() || 'rgba(120,120,120,0.6)';
    for (const g of gaps) ctx.fillRect(Math.round((g / len) * density.width), 0, ratio, 5 * ratio);
  }
  new ResizeObserver(() => drawDensity()).observe(track);
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => drawDensity());

  let flashTimer = 0;
  return {
    element,
    update(view) {
      length = view.length;
      const pct = view.length > 0 ? Math.min(100, (view.position / view.length) * 100) : 0;
      played.style.width = `${pct}%`;
      head.style.left = `${pct}%`;
      elapsed.textContent = formatDuration(view.elapsed);
      total.textContent = formatDuration(view.duration);
      clock.textContent = view.clock > 0 ? formatClock(view.clock) : '';
      track.setAttribute('aria-valuemax', String(Math.round(view.length)));
      track.setAttribute('aria-valuenow', String(Math.round(view.position)));
      track.setAttribute('aria-valuetext', `${formatDuration(view.elapsed)} of ${formatDuration(view.duration)}`);
      track.dataset.elapsed = String(Math.round(view.elapsed));
      const label = view.playing ? 'Pause (Space)' : 'Play (Space)';
      if (play.getAttribute('aria-label') !== label) {
        play.setAttribute('aria-label', label);
        play.title = label;
        play.classList.toggle('playing', view.playing);
        play.dataset.state = view.playing ? 'playing' : 'paused';
      }
    },
    setMarkers(markers, len) {
      length = len;
      const events: HTMLElement[] = [];
      const signals: HTMLElement[] = [];
      for (const m of markers) {
        const pct = len > 0 ? (m.position / len) * 100 : 0;
        const name = KIND_LABEL[m.variant ?? m.kind] ?? m.kind;
        const tipText = `${formatClock(m.epoch)} · ${m.label}`;
        const el = h('button', {
          type: 'button',
          class: 'replay-marker',
          'data-kind': m.kind,
          'data-variant': m.variant ?? m.kind,
          'data-seq': m.seq,
          'data-time': m.time,
          'data-tip': tipText,
          'aria-label': `${name} at ${formatDuration(m.time)}: ${m.label}`,
          tabindex: '-1',
          style: `left:${pct.toFixed(3)}%`,
        });
        // Integrity: what the page reported, and text the log shows arriving at once.
        (m.kind === 'signal' || m.kind === 'burst' ? signals : events).push(el);
      }
      eventsLane.replaceChildren(...events);
      signalsLane.replaceChildren(...signals);
    },
    setDensity(positions, len) {
      densityData = { positions, length: len };
      drawDensity();
    },
    setLoading(text) {
      loading.textContent = text ?? '';
      loading.hidden = text === null;
    },
    setSpeed(s) {
      speed.value = String(s);
    },
    setSkipIdle(on) {
      skip.checked = on;
    },
    toggleKeys,
    shows: (variant) => !hidden.has(variant),
    setGaps(positions) {
      gaps = positions;
      drawDensity();
    },
    flash(text) {
      const before = copy.textContent;
      copy.textContent = text;
      clearTimeout(flashTimer);
      flashTimer = window.setTimeout(() => (copy.textContent = before === text ? 'Copy link to this instant' : before), 1800);
    },
  };
}
