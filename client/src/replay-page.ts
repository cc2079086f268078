/**
 * /replay/<id>#token=... : the hiring panel's replay. The interview's log is
 * loaded page by page into the replay engine (shared/replay) and the page
 * renders as soon as the first page is in; the timeline grows as the rest
 * arrives. Everything shown is the state at one instant, the playhead: the
 * code with each author's text in their colour, the files, who was there,
 * chat, notes, and the markers of what happened when.
 *
 * The playhead `t` is real milliseconds since the first event, which is also
 * what `?t=` holds; the scrubber and playback run on the timeline's scale,
 * where "skip idle" collapses gaps of more than IDLE_GAP_MS.
 */
import './replay/replay.css';
import { LANGUAGES } from '../../shared/languages.js';
import type { Interview } from '../../shared/protocol.js';
import {
  createIdleScale,
  loadTimeline,
  ReplayLoadError,
  ReplayPlayer,
  ReplayTimeline,
  type AuthorCursor,
  type IdleScale,
  type ReplayState,
} from '../../shared/replay/index.js';
import { api, ApiError } from './api-client.js';
import { assignColors, colorOf, initials } from './colors.js';
import { copyText, h } from './dom.js';
import { createExportButtons } from './replay/export-buttons.js';
import { formatDay } from './replay/format.js';
import { createReplayEditor, type EditorSource } from './replay/replay-editor.js';
import { createReplaySide } from './replay/replay-side.js';
import { createTimelineBar, type BarMarker } from './replay/timeline-bar.js';
import { explain, refusalActions } from './refusals.js';
import { showScreen, toast } from './screens.js';
import { isExpired, peekClaims, takeToken, type TokenClaims } from './token-store.js';

/** Gaps longer than this take this long with "skip idle" on. */
const IDLE_GAP_MS = 3000;
/** Arrow keys move this far on the timeline's scale; with Shift, the second. */
const STEP_MS = 5000;
const BIG_STEP_MS = 30_000;

export async function startReplay(root: HTMLElement, interviewId: string): Promise<void> {
  const token = takeToken(`replay:${interviewId}`);
  const claims = token ? peekClaims(token) : undefined;
  const fail = (code: string, message = '') => {
    const { title, message: text } =
      code === 'forbidden' ? { title: 'You cannot open this replay', message: message || 'Replays are for interviewers and the hiring panel.' } : explain(code, message, claims?.role);
    showScreen(root, title, text, refusalActions(code, claims?.role, () => location.reload()));
  };
  if (!token || !claims) return fail('no_token');
  if (isExpired(claims)) return fail('token_expired');
  if (claims.iid !== undefined && claims.iid !== interviewId) return fail('wrong_interview');

  showScreen(root, 'Loading the interview…', '', [], 'info');
  let interview: Interview;
  try {
    interview = await api.getInterview(token, interviewId);
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(0, 'internal', 'The server cannot be reached.');
    return fail(e.code, e.message);
  }
  buildReplay(root, token, claims, interview, fail);
}

function buildReplay(root: HTMLElement, token: string, claims: TokenClaims, interview: Interview, fail: (code: string, message?: string) => void): void {
  const timeline = new ReplayTimeline();
  const player = new ReplayPlayer(timeline);

  // The clock.
  let t = readInstant();
  let pendingInstant = t > 0; // a `?t=` beyond what has loaded yet
  let playing = false;
  let speed = 1;
  let skipIdle = true;
  let scale: IdleScale = createIdleScale([], IDLE_GAP_MS);
  let loaded = false;
  let lastFrame = 0;
  let frameId = 0;
  let renderQueued = 0;
  let lastUrlSync = 0;
  // Which file to show: the one being edited (follow), until the reviewer picks a tab.
  let follow = true;
  let picked: string | undefined;
  /** The "Author colours" switch: tints the code and the notes. */
  let tinted = true;
  let shownIndex = -1;
  /**
   * The event stepping (`,` and `.`) landed on. Events often share a
   * millisecond (one in ten with two nodes), and an instant alone names only
   * the last of them: while `t` stays at this event's time, it is shown.
   */
  let pinned: number | undefined;
  let state: ReplayState | undefined;

  const toPos = (ms: number) => (skipIdle ? scale.toScaled(ms) : ms);
  const fromPos = (pos: number) => (skipIdle ? scale.toReal(pos) : pos);
  const length = () => (skipIdle ? scale.duration : timeline.duration);

  // Layout: the room's header, editor and sidebar, and the timeline underneath.
  const editor = createReplayEditor();
  const side = createReplaySide(claims.sub);
  const bar = createTimelineBar({
    seek: (pos) => seekTo(fromPos(pos)),
    seekTime: (ms) => seekTo(ms),
    togglePlay: () => (playing ? pause() : play()),
    setSpeed: (s) => {
      speed = s;
    },
    setSkipIdle: (on) => {
      skipIdle = on;
      refreshScale();
      invalidate();
    },
    setAuthorColours: (on) => {
      editor.setAuthorColours(on);
      tinted = on;
      shownIndex = -1;
      invalidate();
    },
    copyLink: async () => {
      syncUrl(true);
      const url = `${location.origin}${location.pathname}?t=${Math.round(t)}`;
      bar.flash((await copyText(url)) ? 'Link copied' : 'Copy failed');
    },
  });
  bar.setSkipIdle(skipIdle);
  bar.setSpeed(speed);

  const title = h('h1', { class: 'room-title' }, interview.title);
  const language = h('span', { class: 'replay-language', 'data-testid': 'replay-language', title: 'Language at this instant' });
  const phase = h('span', { class: 'status-pill' });
  const day = h('span', { class: 'muted replay-day' });
  const followBox = h('input', { type: 'checkbox', checked: true, 'data-testid': 'replay-follow' });
  followBox.addEventListener('change', () => {
    follow = followBox.checked;
    shownIndex = -1;
    invalidate();
  });
  // A tab picked by hand stops following the edits until "Follow edits" is ticked again.
  editor.onSelect((path) => {
    picked = path;
    follow = false;
    followBox.checked = false;
    shownIndex = -1;
    invalidate();
  });
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/', title: 'Duet home' }, 'Duet'),
    title,
    h('span', { class: 'replay-badge' }, 'Replay'),
    phase,
    day,
    h('div', { class: 'spacer' }),
    language,
    h('label', { class: 'replay-check', title: 'Show the file being edited as the replay moves' }, followBox, 'Follow edits'),
    createExportButtons(token, interview.id),
    h(
      'span',
      { class: 'you', title: `Signed in as ${claims.name} (${claims.role})` },
      // A reviewer was not in the interview: a neutral avatar, not one of the participants' colours.
      h('span', { class: 'avatar small', style: `background:${claims.role === 'reviewer' ? 'var(--muted)' : colorOf(claims.sub)}` }, initials(claims.name)),
      claims.name,
      h('span', { class: `role-tag role-${claims.role}` }, claims.role),
    ),
  );
  const liveBanner = h(
    'div',
    { class: 'banner info', role: 'status', hidden: interview.status !== 'open' },
    'This interview is still in progress: the replay shows it up to when the page loaded.',
    h('button', { type: 'button', class: 'button small', onclick: () => void load() }, 'Load what is new'),
  );
  // aria-live off: #app is a polite live region, and the clock and the code change every frame while playing.
  root.replaceChildren(h('div', { class: 'room replay', 'data-testid': 'replay', 'aria-live': 'off' }, header, liveBanner, h('main', { class: 'room-main' }, editor.element, side.element), bar.element));
  document.title = `${interview.title} (replay) · Duet`;

  /** Everything derived from the whole loaded log: scale, markers, density, colours. */
  function refreshScale(): void {
    const start = timeline.startTime;
    scale = createIdleScale(timeline.times.map((x) => x - start), IDLE_GAP_MS);
    const len = length();
    const markers: BarMarker[] = timeline.markers.map((m) => ({
      kind: m.kind,
      ...(m.kind === 'signal' ? { variant: String(m.data.kind) } : {}),
      position: toPos(m.time),
      time: m.time,
      epoch: start + m.time,
      label: m.label,
      seq: m.seq,
    }));
    bar.setMarkers(markers, len);
    const edits: number[] = [];
    for (let i = 0; i < timeline.length; i++) if (timeline.events[i]!.type === 'doc') edits.push(toPos(timeline.times[i]! - start));
    bar.setDensity(edits, len);
    const gaps: number[] = [];
    if (skipIdle) for (let i = 1; i < timeline.length; i++) if (timeline.times[i]! - timeline.times[i - 1]! > IDLE_GAP_MS) gaps.push(toPos(timeline.times[i]! - start));
    bar.setGaps(gaps);
  }

  function refreshColours(): void {
    // The room colours people by join order (colors.ts); the log's joins give the same order.
    // Anyone who wrote without joining (the seed's creator) comes after them.
    const order = new Set<string>();
    for (const m of timeline.markers) if (m.kind === 'join') order.add(m.actor.sub);
    for (const sub of timeline.actors.keys()) order.add(sub);
    assignColors([...order].map((sub) => ({ sub })));
  }

  function render(): void {
    renderQueued = 0;
    if (timeline.length === 0) return;
    // A shared instant not loaded yet stays the target; meanwhile the end of what is loaded shows.
    const at = Math.max(0, Math.min(t, timeline.duration));
    if (!pendingInstant) t = at;
    const index = indexAt(at);
    const moved = index !== shownIndex;
    if (moved) {
      player.moveTo(index);
      state = player.state();
      shownIndex = index;
      let cursors: AuthorCursor[] | undefined;
      const source: EditorSource = {
        text: (doc, path) => player.text(doc, path),
        attribution: (doc, path) => player.attribution(doc, path),
        cursors: () => (cursors ??= player.cursors()),
        nameOf: (sub) => timeline.actors.get(sub)?.name ?? sub,
      };
      const paths = Object.keys(state.files);
      let path = picked;
      if (follow) {
        const latest = source.cursors().reduce<AuthorCursor | undefined>((a, c) => (c.doc === 'main' && c.path !== null && (!a || c.seq > a.seq) ? c : a), undefined);
        if (latest?.path) path = latest.path;
      }
      if (path === undefined || !paths.includes(path)) path = editor.currentPath();
      editor.render(source, paths, path, state.language, follow);
      // Runs are logged when they finish: those finished by this instant.
      const runs = timeline.markers.filter((m) => m.kind === 'run' && m.index < index).map((m) => ({ seq: m.seq, at: m.at, by: m.actor, data: m.data }));
      // Who wrote each part of the notes: a panel reads whose judgement a line is.
      const notesText = state.notes;
      const notesBy = player.attribution('notes').map((r) => ({ text: notesText.slice(r.from, r.to), by: r.author === null ? null : (timeline.actors.get(r.author) ?? null) }));
      side.update({ ...state, runs, notesBy, tinted });
      language.textContent = state.language ? (LANGUAGES[state.language as keyof typeof LANGUAGES]?.label ?? state.language) : '';
      phase.textContent = state.ended ? 'ended' : 'in progress';
      phase.className = `status-pill ${state.ended ? 'ended' : 'open'}`;
    }
    bar.update({
      position: toPos(at),
      length: length(),
      elapsed: at,
      duration: timeline.duration,
      clock: timeline.startTime + at,
      playing,
    });
  }

  /** One render on the next frame, however many seeks arrive before it (dragging the scrubber). */
  function invalidate(): void {
    if (!renderQueued && !playing) renderQueued = requestAnimationFrame(render);
  }

  function seekTo(ms: number): void {
    pinned = undefined;
    pendingInstant = false;
    t = Math.max(0, Math.min(ms, timeline.duration));
    syncUrl(true);
    if (playing) lastFrame = performance.now();
    invalidate();
  }

  function frame(now: number): void {
    if (!playing) return;
    const dt = Math.min(250, now - lastFrame);
    lastFrame = now;
    let pos = toPos(t) + dt * speed;
    if (pos >= length()) {
      pos = length();
      // At the end of what has loaded: stop if that is the end, else wait for the next page.
      if (loaded) playing = false;
    }
    t = fromPos(pos);
    render();
    syncUrl(!playing);
    if (playing) frameId = requestAnimationFrame(frame);
  }

  function play(): void {
    if (playing || timeline.length === 0) return;
    if (loaded && toPos(t) >= length() - 1) t = 0; // from the end, play starts over
    pendingInstant = false;
    playing = true;
    lastFrame = performance.now();
    cancelAnimationFrame(renderQueued);
    renderQueued = 0;
    frameId = requestAnimationFrame(frame);
    render();
  }

  function pause(): void {
    if (!playing) return;
    playing = false;
    cancelAnimationFrame(frameId);
    syncUrl(true);
    render();
  }

  function syncUrl(force: boolean): void {
    const now = performance.now();
    if (!force && now - lastUrlSync < 1000) return;
    lastUrlSync = now;
    const url = `${location.pathname}?t=${Math.round(t)}`;
    if (location.pathname + location.search !== url) history.replaceState(history.state, '', url);
  }

  /** The state shown at instant `ms`: the pinned event while the playhead is at its time. */
  function indexAt(ms: number): number {
    return pinned !== undefined && timeline.timeOfIndex(pinned) === ms ? pinned : timeline.indexAtTime(ms);
  }

  function stepEvent(direction: 1 | -1): void {
    const index = indexAt(t);
    const target = Math.max(1, Math.min(timeline.length, index + direction));
    seekTo(timeline.timeOfIndex(target));
    pinned = target;
  }

  function jumpMarker(direction: 1 | -1): void {
    // Only the markers the legend shows.
    const list = timeline.markers.filter((m) => bar.shows(m.kind === 'signal' ? String(m.data.kind) : m.kind));
    const next = direction > 0 ? list.find((m) => m.time > t + 0.5) : [...list].reverse().find((m) => m.time < t - 0.5);
    if (next) seekTo(next.time);
  }

  document.addEventListener('keydown', (e) => {
    // defaultPrevented: a tab list already used the arrow key (dom.ts tablistKeys).
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target as HTMLElement;
    const inEditor = !!target.closest?.('.monaco-editor');
    const typing = (target instanceof HTMLInputElement && target.type !== 'checkbox') || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement || target.isContentEditable;
    if (typing && !(inEditor && e.key === ' ')) return;
    if (inEditor && e.key !== ' ') return; // arrows move the caret in the (read-only) editor
    const move = (delta: number) => seekTo(fromPos(Math.max(0, Math.min(length(), toPos(t) + delta))));
    switch (e.key) {
      case ' ':
        if (!e.repeat) (playing ? pause : play)();
        break;
      case 'ArrowRight':
        move(e.shiftKey ? BIG_STEP_MS : STEP_MS);
        break;
      case 'ArrowLeft':
        move(-(e.shiftKey ? BIG_STEP_MS : STEP_MS));
        break;
      case '.':
        stepEvent(1);
        break;
      case ',':
        stepEvent(-1);
        break;
      case ']':
        jumpMarker(1);
        break;
      case '[':
        jumpMarker(-1);
        break;
      case 'Home':
        seekTo(0);
        break;
      case 'End':
        seekTo(timeline.duration);
        break;
      case '?':
        bar.toggleKeys();
        break;
      case 'Escape':
        bar.toggleKeys(false);
        break;
      default:
        return;
    }
    e.preventDefault();
  });
  // Space activates a focused button on keyup; here it is play/pause only.
  document.addEventListener('keyup', (e) => {
    const target = e.target as HTMLElement;
    if (e.key === ' ' && (target instanceof HTMLButtonElement || (target instanceof HTMLInputElement && target.type === 'checkbox'))) e.preventDefault();
  });

  async function load(): Promise<void> {
    const first = timeline.length === 0;
    loaded = false;
    bar.setLoading(first ? 'Loading the log…' : 'Loading what is new…');
    try {
      await loadTimeline(timeline, {
        baseUrl: location.origin,
        interviewId: interview.id,
        token,
        onPage: () => {
          refreshColours();
          refreshScale();
          bar.setLoading(`Loading… ${timeline.length.toLocaleString()} events`);
          day.textContent = formatDay(timeline.startTime);
          // A shared instant beyond what has loaded: go there as soon as it exists.
          if (pendingInstant && t <= timeline.duration) pendingInstant = false;
          if (!playing) invalidate();
        },
      });
      loaded = true;
      bar.setLoading(null);
      if (pendingInstant) {
        pendingInstant = false; // past the end of the interview: the end it is
        t = timeline.duration;
      }
      const fresh = await api.getInterview(token, interview.id).catch(() => interview);
      liveBanner.hidden = fresh.status !== 'open';
      invalidate();
      root.querySelector('.replay')?.setAttribute('data-loaded', 'true');
    } catch (err) {
      const e = err instanceof ReplayLoadError ? err : new ApiError(0, 'unavailable', 'The server cannot be reached.');
      if (timeline.length === 0) return fail(e.code, e.message);
      bar.setLoading(null);
      loaded = true;
      toast(`Part of the interview could not be loaded: ${e.message}`);
    }
  }

  // A read-only window onto what the page shows, for the tests and for debugging from the console.
  (window as unknown as { duetReplay: unknown }).duetReplay = {
    t: () => t,
    index: () => shownIndex,
    length: () => timeline.length,
    loaded: () => loaded,
    playing: () => playing,
    speed: () => speed,
    path: () => editor.currentPath(),
    text: () => editor.text(),
    files: () => (state ? Object.keys(state.files) : []),
    /** Where `ms` (real, since the first event) sits on the scrubber, 0..1. */
    fraction: (ms: number) => (length() > 0 ? toPos(ms) / length() : 0),
  };

  void load();
}

/** `?t=<ms since the first event>`; 0 when absent or not a number. */
function readInstant(): number {
  const raw = new URLSearchParams(location.search).get('t');
  const n = raw === null ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
