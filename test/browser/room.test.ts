/**
 * The browser client in a real Chromium against a real node: concurrent
 * typing, read-only observers, what a candidate's page never receives, chat
 * routing, and a node restart with edits made while it was down.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { channelOf } from '../../server/context.js';
import { defaultRunnerConfig } from '../../server/runner/config.js';
import { startCluster } from '../fixtures/multi-node.js';
import { hasBwrap, runIdOf, startRun, TEST_LIMITS, watchRuns, writeCode } from '../runner-fixtures.js';
import { api, connectClient, createInterview, holdNextStoreAnswer, interviewerToken, slowStoreCalls, startNode, tempDir, waitFor, type TestClient, type TestInterview, type TestNode } from '../helpers.js';
import type { RunState } from '../../shared/protocol.js';
import {
  NODE_OPTIONS,
  focusEditor,
  paste,
  hasChromium,
  openRoom,
  screenshot,
  startNodeAt,
  useBrowser,
  type RoomPage,
} from './browser.js';

/** Generous: CI runs this file beside others on two cores. Conditions are awaited, so it costs nothing when fast. */
const WAIT = 20_000;
/** Polls a browser condition: every 50 ms is plenty, and spares the two cores. */
const until = <T>(check: () => T | Promise<T>) => waitFor(check, WAIT, 50);

const SOLUTION = [
  'def two_sum(nums: list[int], target: int) -> tuple[int, int]:',
  '    seen: dict[int, int] = {}',
  '    for i, n in enumerate(nums):',
  '        if target - n in seen:',
  '            return seen[target - n], i',
  '        seen[n] = i',
  '    raise ValueError("no two numbers add up to target")',
].join('\n');

describe.skipIf(!hasChromium)('browser client', () => {
  const browser = useBrowser();

  /**
   * Opens a candidate's page whose join waits at its participant list read,
   * before `session`, with its socket already in the interview's channels
   * (alongside one participant already there). `held.release()` lets it go on.
   */
  const candidateHeldBeforeSession = async (node: TestNode, iv: TestInterview) => {
    const held = holdNextStoreAnswer(node.server.ctx.store, 'listParticipants');
    const opening = openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await held.answered;
    await until(() => node.server.ctx.io.sockets.adapter.rooms.get(channelOf.all(iv.interview.id))?.size === 2);
    return { opening, held };
  };

  /** A node, an interview on it, and the pages of its interviewer and of a candidate, both in the room. */
  const interviewerAndCandidate = async (title: string, language: string, candidateName = 'Cy') => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, title, language);
    const interviewer = await openRoom(browser, node.url, iv.interview.id, iv.token);
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', candidateName));
    return { node, iv, interviewer, candidate };
  };

  /** A node with a runner, a Python interview on it, and its interviewer (a Node client) in the room with `code` written. */
  const runnerRoom = async (title: string, code: string, limits: Partial<typeof TEST_LIMITS> = {}) => {
    const node = await startNode({ runner: defaultRunnerConfig({ ...TEST_LIMITS, ...limits }) }, NODE_OPTIONS);
    await node.server.ctx.runner.whenReady();
    const iv = await createInterview(node, title, 'python');
    const interviewer = await connectClient(node.url, iv.token);
    await writeCode(interviewer, code);
    return { node, iv, interviewer };
  };

  /**
   * The node's runner reports this run as in progress for the interview, with
   * this output (as another node's answer made before the run ended would),
   * until the test ends.
   */
  const pretendRunInProgress = (node: TestNode, interviewId: string, state: RunState, output: Array<{ stream: string; data: string; ms: number }> = []) => {
    const runner = node.server.ctx.runner;
    const current = runner.current.bind(runner);
    runner.current = (id) => current(id) ?? (id === interviewId ? ({ state, output } as unknown as ReturnType<typeof current>) : undefined);
    onTestFinished(() => void (runner.current = current));
  };

  /**
   * Resolves once the page has handled every frame its socket got so far: a
   * chat message sent now comes after them on the same socket, and handlers run
   * frame by frame.
   */
  const handledSoFar = async (page: RoomPage, sender: TestClient) => {
    const text = `sync ${Math.random().toString(36).slice(2)}`;
    await sender.socket.emitWithAck('chat:send', { channel: 'room', text });
    await until(async () => (await page.page.getByTestId('chat-list').innerText()).includes(text));
  };

  const sameText = async (pages: RoomPage[]) => {
    const texts = await Promise.all(pages.map((p) => p.text()));
    return texts.every((t) => t === texts[0]) ? texts[0]! : false;
  };

  it('interviewer and candidate type at once and converge; the observer cannot edit; chat and notes reach only their audience', async () => {
    const { node, iv, interviewer, candidate } = await interviewerAndCandidate('Two Sum', 'python', 'Cy Candidate');
    // The observer's laptop clock is ten minutes fast: the room's clock counts in the node's time all the same.
    const observer = await openRoom(browser, node.url, iv.interview.id, await iv.invite('observer', 'Obi Observer'), { clockSkewMs: 10 * 60_000 });

    // The token left the address bar as soon as the page read it.
    for (const p of [interviewer, candidate, observer]) expect(p.page.url()).not.toContain('token=');
    // Each page names its interview to the load balancer, which routes on it (deploy/nginx.conf).
    const sockets = [...node.server.ctx.io.of('/').sockets.values()];
    expect(sockets).toHaveLength(3);
    for (const s of sockets) expect(s.handshake.query.interview).toBe(iv.interview.id);
    // The clock runs from the candidate's first join, on every page.
    const clockOf = (p: RoomPage) => p.page.getByTestId('interview-clock').innerText();
    for (const p of [interviewer, candidate, observer]) await until(async () => /^0:\d\d$/.test(await clockOf(p)));
    expect(await observer.page.evaluate(() => Date.now())).toBeGreaterThan(Date.now() + 9 * 60_000);
    const ticked = await clockOf(interviewer);
    await until(async () => (await clockOf(interviewer)) !== ticked);
    const editable = await interviewer.page.evaluate(() => performance.getEntriesByName('duet:editable')[0]?.startTime ?? -1);
    console.log(`time to editable editor: ${Math.round(editable)} ms`);

    // Both type at the same time, each into its own line of a shared file.
    await focusEditor(interviewer);
    await interviewer.page.keyboard.type('# task');
    await until(async () => (await candidate.text()).length > 0);
    await focusEditor(candidate);
    await candidate.page.keyboard.press('Control+Home');
    // Key by key on both pages at once (each key is a real keydown/input/keyup in Monaco).
    const a = ' alpha beta';
    const b = 'def solve ';
    await Promise.all([interviewer.page.keyboard.type(a, { delay: 8 }), candidate.page.keyboard.type(b, { delay: 8 })]);
    const converged = (await until(() => sameText([interviewer, candidate, observer]))) as string;
    const expected = [...('# task' + a + b)].sort().join('');
    expect([...converged].sort().join('')).toBe(expected);
    await until(async () => (await interviewer.pending()) === 0 && (await candidate.pending()) === 0);
    const stored = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(stored.body.files['main.py']).toBe(converged);

    // An observer's caret is drawn for others only once they put it in the editor: not at 1:1 on the candidate's code from the start.
    const drawsCaretOf = (p: typeof candidate, name: string) =>
      p.page.evaluate((n) => {
        const g = globalThis as any;
        return [...g.document.querySelectorAll('style')].some((style: { textContent: string | null }) => style.textContent?.includes(JSON.stringify(n)));
      }, name);
    await until(() => drawsCaretOf(candidate, 'Ada'));
    expect(await drawsCaretOf(candidate, 'Obi Observer')).toBe(false);

    // The observer's editor is read-only: typing changes nothing, anywhere.
    await observer.page.getByTestId('observing').waitFor({ state: 'visible', timeout: WAIT });
    await focusEditor(observer);
    await until(() => drawsCaretOf(candidate, 'Obi Observer'));
    await observer.page.keyboard.type('zzz');
    expect(await observer.text()).toBe(converged);
    await interviewer.page.keyboard.type('!');
    await until(async () => (await observer.text()) === (await interviewer.text()) && (await observer.text()).includes('!'));
    expect(await interviewer.text()).not.toContain('zzz');

    // After a deletion, an observer joins: its sync sends nothing back. (Yjs puts the whole
    // delete set in what a client offers the node after a sync; an observer's offer was refused
    // as forbidden, with a toast, on every join and every periodic resync.)
    await interviewer.page.keyboard.press('Backspace');
    await until(async () => (await observer.text()) === (await interviewer.text()) && !(await observer.text()).includes('!'));
    const late = await openRoom(browser, node.url, iv.interview.id, await iv.invite('observer', 'Lee Late'));
    await until(async () => (await late.text()) === (await interviewer.text()));
    await late.page.waitForTimeout(300);
    expect(late.frames.filter((f) => f.includes('forbidden'))).toEqual([]);
    expect(await late.page.locator('.toast').count()).toBe(0);
    await late.page.close();

    // Panel notes and panel chat: interviewer and observer only.
    const NOTES = 'SECRET-NOTES-4242 strong on complexity';
    await interviewer.page.getByRole('tab', { name: 'Notes' }).click();
    await interviewer.page.locator('.notes-host .view-lines').click();
    await interviewer.page.keyboard.insertText(NOTES);
    await until(async () => (await observer.notes()) === NOTES);
    await interviewer.page.getByRole('tab', { name: /^Chat/ }).click();

    const send = async (p: RoomPage, channel: 'Room' | 'Panel' | null, text: string) => {
      if (channel) await p.page.locator(`.chat-tab[data-channel="${channel.toLowerCase()}"]`).click();
      await p.page.getByTestId('chat-input').fill(text);
      await p.page.getByTestId('chat-input').press('Enter');
    };
    const PANEL = 'PANEL-SECRET-77 lean hire';
    await send(candidate, null, 'Hello! Can I use a hash map?');
    await send(interviewer, 'Room', 'Sure, go ahead.');
    await send(observer, 'Panel', 'Observer here: nice pace.');
    await send(interviewer, 'Panel', PANEL);

    const chatText = (p: RoomPage) => p.page.getByTestId('chat-list').innerText();
    // Candidate: room chat only, and both room messages.
    await until(async () => (await chatText(candidate)).includes('Sure, go ahead.'));
    expect(await chatText(candidate)).toContain('Hello! Can I use a hash map?');
    // Observer: room messages in Room, both panel messages in Panel.
    await observer.page.locator('.chat-tab[data-channel="room"]').click();
    await until(async () => (await chatText(observer)).includes('Sure, go ahead.'));
    await observer.page.locator('.chat-tab[data-channel="panel"]').click();
    await until(async () => (await chatText(observer)).includes(PANEL));
    // Interviewer on the panel tab sees the observer's message.
    await until(async () => (await chatText(interviewer)).includes('Observer here: nice pace.'));

    // Unread counter: the candidate's next message lands on the interviewer's hidden Room tab.
    await send(candidate, null, 'Done, I think.');
    await until(async () => (await interviewer.page.locator('.chat-tab[data-channel="room"] .badge').textContent()) === '1');

    // The candidate's page never held the notes document or panel chat: not in the DOM, not on the wire.
    await until(async () => (await chatText(candidate)).includes('Done, I think.'));
    expect(await candidate.notes()).toBeNull();
    expect(await candidate.page.evaluate(() => (globalThis as any).duetDebug.docs())).toEqual(['main']);
    const candidateDom = await candidate.page.content();
    for (const secret of ['SECRET-NOTES-4242', 'PANEL-SECRET-77', 'Observer here']) {
      expect(candidateDom).not.toContain(secret);
      expect(candidate.frames.some((f) => f.includes(secret))).toBe(false);
    }
    expect(candidate.frames.some((f) => f.includes('"notes"') || f.includes('"panel"'))).toBe(false);
    expect(candidate.frames.length).toBeGreaterThan(5); // the recorder did see the traffic
    // ...while the observer's did receive them, so the check above can fail.
    expect(observer.frames.some((f) => f.includes('PANEL-SECRET-77'))).toBe(true);
    expect(observer.frames.some((f) => f.includes('"notes"'))).toBe(true);
    expect(await candidate.page.locator('.chat-tab[data-channel="panel"]').count()).toBe(0);
    expect(await candidate.page.getByRole('tab', { name: 'Notes' }).count()).toBe(0);

    // Everyone sees everyone's cursor, with a name: then the screenshots for the docs.
    await focusEditor(interviewer);
    await interviewer.page.keyboard.press('Control+A');
    await interviewer.page.keyboard.press('Delete');
    // Pasted, the way a prepared snippet arrives (typed line by line it would depend on auto-indent timing).
    await paste(interviewer, SOLUTION);
    await until(async () => (await candidate.text()) === SOLUTION && (await observer.text()) === SOLUTION);
    const moveTo = async (p: RoomPage, line: number, select = false) => {
      await p.page.locator('.editor-pane .monaco-editor .view-lines').click();
      await p.page.keyboard.press('Control+Home');
      for (let i = 1; i < line; i++) await p.page.keyboard.press('ArrowDown');
      await p.page.keyboard.press(select ? 'Shift+End' : 'End');
    };
    await moveTo(observer, 7);
    await moveTo(candidate, 4);
    await moveTo(interviewer, 6, true);
    for (const p of [interviewer, candidate, observer]) {
      await until(async () => (await p.page.locator('.duet-label').count()) === 2);
    }
    await until(async () => (await candidate.page.locator('.duet-sel').count()) >= 1); // the interviewer's selection
    await observer.page.getByRole('tab', { name: 'Notes' }).click();
    await screenshot(interviewer, 'room-interviewer.png');
    await screenshot(candidate, 'room-candidate.png');
    await screenshot(observer, 'room-observer.png');
    // The dark theme follows the system setting, Monaco included.
    await candidate.page.emulateMedia({ colorScheme: 'dark' });
    await until(async () => (await candidate.page.locator('.monaco-editor.vs-dark').count()) > 0);
    await screenshot(candidate, 'room-candidate-dark.png');

    // Two carets on one spot: both names show, one above the other, not one over the other.
    await moveTo(candidate, 7);
    const labels = () =>
      interviewer.page.evaluate(() => {
        const g = globalThis as any;
        return [...g.document.querySelectorAll('.editor-pane .duet-label')].map((el: any) => {
          const box = el.getBoundingClientRect();
          return { x: box.left as number, y: box.top as number, top: g.getComputedStyle(el, '::after').top as string };
        });
      });
    // Side by side on one line: Monaco draws the second caret a pixel or two after the first.
    const oneSpot = ([p, q]: Awaited<ReturnType<typeof labels>>) => !!p && !!q && p.y === q.y && Math.abs(p.x - q.x) < 4;
    await until(async () => oneSpot(await labels()));
    expect(new Set((await labels()).map((l) => l.top)).size).toBe(2);

    // Where the editor's top edge leaves no room above a caret, its names stack downwards: none is cut off.
    const nameBoxes = () =>
      interviewer.page.evaluate(() => {
        const g = globalThis as any;
        const guard = g.document.querySelector('.editor-pane .overflow-guard').getBoundingClientRect();
        return [...g.document.querySelectorAll('.editor-pane .duet-label')].map((el: any) => {
          const caret = el.getBoundingClientRect();
          const top = caret.top + parseFloat(g.getComputedStyle(el, '::after').top);
          return { caret: caret.top - guard.top, top: top - guard.top, x: caret.left as number };
        });
      });
    const namesShown = (boxes: Awaited<ReturnType<typeof nameBoxes>>) =>
      boxes.length === 2 &&
      boxes[0]!.caret === boxes[1]!.caret &&
      Math.abs(boxes[0]!.x - boxes[1]!.x) < 4 &&
      boxes.every((b) => b.top >= 0) &&
      Math.abs(boxes[0]!.top - boxes[1]!.top) >= 14; // one name's height: not over each other
    await moveTo(candidate, 1);
    await moveTo(observer, 1);
    await until(async () => (await nameBoxes()).every((b) => b.caret < 20) && namesShown(await nameBoxes()));
    // The same for a caret on the first line the interviewer has scrolled to.
    await focusEditor(interviewer);
    await paste(interviewer, Array.from({ length: 40 }, (_, i) => `\n# filler ${i + 1}`).join(''));
    await until(async () => (await candidate.text()).endsWith('# filler 40'));
    // Line 10: far enough down to start with room above, near enough the top to scroll there.
    await moveTo(candidate, 10);
    await moveTo(observer, 10);
    // A page behind the others gets few animation frames, and Monaco draws a scroll in one.
    await interviewer.page.bringToFront();
    await interviewer.page.keyboard.press('Control+Home');
    await until(async () => (await nameBoxes()).length === 2 && (await nameBoxes())[0]!.caret > 40);
    // Ctrl+Down scrolls a line at a time (leaving the caret where it is) until that line is the first shown:
    // room for one name above, the other goes below.
    const caretTop = async () => (await nameBoxes())[0]!.caret;
    for (let i = 0; i < 20 && (await caretTop()) >= 19; i++) {
      const before = await caretTop();
      await interviewer.page.keyboard.press('Control+ArrowDown');
      await until(async () => (await caretTop()) !== before);
    }
    expect(await caretTop()).toBeGreaterThanOrEqual(15); // the editor's top padding (16 px) above the line
    await until(async () => namesShown(await nameBoxes()));
    expect((await nameBoxes()).filter((b) => b.top > b.caret)).toHaveLength(1);

    for (const p of [interviewer, candidate, observer]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate, observer].map((p) => p.page.close()));
  }, 90_000);

  it('a typist\'s caret follows the text on the other page without an awareness message per key; a move is sent at once', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Caret', 'python');
    const typist = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy Candidate'));
    const watcher = await openRoom(browser, node.url, iv.interview.id, iv.token);
    const awarenessFrames = () => watcher.frames.filter((f) => f.includes('"awareness"')).length;
    // The watcher's view: the text left of the typist's caret, on the caret's line.
    const leftOfCaret = () =>
      watcher.page.evaluate(() => {
        const g = globalThis as any;
        const caret = g.document.querySelector('.editor-pane .duet-label');
        const line = caret?.closest('.view-line');
        if (!caret || !line) return null;
        const range = g.document.createRange();
        range.setStart(line, 0);
        range.setEndBefore(caret);
        return (range.toString() as string).replace(/\u00a0/g, ' ');
      });

    // A line with text right of the caret: the caret is anchored to that text's first character.
    await focusEditor(typist);
    await typist.page.keyboard.press('Enter');
    await typist.page.keyboard.type('# end');
    await typist.page.keyboard.press('Home');
    await until(async () => (await leftOfCaret()) === '' && (await watcher.text()).endsWith('\n# end'));
    const before = awarenessFrames();
    // No brackets or quotes: Monaco closes those, and stepping over a closing one is a caret move.
    const LINE = 'answer = total + delta * 2 ';
    await typist.page.keyboard.type(LINE, { delay: 30 });
    await until(async () => (await leftOfCaret()) === LINE);
    expect((await watcher.text()).endsWith(`\n${LINE}# end`)).toBe(true);
    // Twenty-seven keys: the caret's position relative to the text did not change,
    // so nothing but the edits went out (a renewal may if the typing took 8 s).
    const afterTyping = awarenessFrames();
    expect(afterTyping - before).toBeLessThanOrEqual(1);

    // A move that is not typing is sent at once.
    await typist.page.keyboard.press('Home');
    await until(async () => (await leftOfCaret()) === '');
    expect(awarenessFrames()).toBeGreaterThan(afterTyping);
    for (const p of [typist, watcher]) expect(p.errors).toEqual([]);
    await Promise.all([typist, watcher].map((p) => p.page.close()));
  }, 60_000);

  it('a chat message and a language change sent while a page joins, before its session, show on that page', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Late joiner', 'typescript');
    const interviewer = await connectClient(node.url, iv.token);
    // The interviewer's own list read after its join is done: the hold below is for the candidate's.
    await until(() => interviewer.participantEvents() > 0);
    const { opening, held } = await candidateHeldBeforeSession(node, iv);
    expect(await interviewer.socket.emitWithAck('chat:send', { channel: 'room', text: 'Welcome, Cy!' })).toMatchObject({ message: { text: 'Welcome, Cy!' } });
    expect(await interviewer.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ ok: true, interview: { language: 'go' } });
    // Both broadcasts reach the page before its session.
    await new Promise((r) => setTimeout(r, 300));
    held.release();
    const candidate = await opening;
    await until(async () => (await candidate.page.getByTestId('chat-list').innerText()).includes('Welcome, Cy!'));
    await until(async () => (await candidate.page.getByTestId('language').inputValue()) === 'go');
    expect(candidate.errors).toEqual([]);
  });

  it('after a reconnection, a language change made while the page rejoined is not undone by its older session', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Rejoin', 'typescript');
    const interviewer = await connectClient(node.url, iv.token);
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await until(() => interviewer.participants().some((p) => p.name === 'Cy' && p.online));
    // The rejoin's own read of the interview (the handshake's is the first) is done, its answer held, its socket in the channels.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'getInterview', 1);
    for (const s of node.server.ctx.io.of('/').sockets.values()) if (s.data.actor.name === 'Cy') s.conn.close();
    expect(await held.answered).toMatchObject({ language: 'typescript' });
    expect(await interviewer.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ ok: true, interview: { language: 'go' } });
    await until(async () => (await candidate.page.getByTestId('language').inputValue()) === 'go');
    held.release();
    await until(() => candidate.connected());
    await new Promise((r) => setTimeout(r, 300));
    expect(await candidate.page.getByTestId('language').inputValue()).toBe('go');
    expect(candidate.errors).toEqual([]);
  });

  it("a language change from one node that reaches a page after a newer one from another does not undo it", async () => {
    const { nodes } = await startCluster(2, {}, NODE_OPTIONS);
    const [a, b] = nodes as [TestNode, TestNode];
    const iv = await createInterview(a, 'Two nodes', 'typescript');
    const adaOnA = await connectClient(a.url, iv.token);
    const boOnB = await connectClient(b.url, await iv.invite('interviewer', 'Bo'));
    const candidate = await openRoom(browser, b.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    // Node A's broadcast of its change waits (as behind a busy event loop), so node B's later change overtakes it.
    const rooms = a.server.ctx.rooms;
    const peek = rooms.peek.bind(rooms);
    let reached!: () => void;
    const publishing = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    rooms.peek = async (id) => {
      reached();
      await gate;
      return peek(id);
    };
    onTestFinished(() => {
      release();
      rooms.peek = peek;
    });
    const toGo = adaOnA.socket.emitWithAck('interview:language', { language: 'go' });
    await publishing;
    expect(await boOnB.socket.emitWithAck('interview:language', { language: 'rust' })).toMatchObject({ ok: true, interview: { language: 'rust' } });
    await until(async () => (await candidate.page.getByTestId('language').inputValue()) === 'rust');
    const goFrames = () => candidate.frames.filter((f) => f.startsWith('42["interview"') && f.includes('"language":"go"')).length;
    expect(goFrames()).toBe(0);
    release();
    expect(await toGo).toMatchObject({ ok: true, interview: { language: 'go' } });
    await until(() => goFrames() > 0);
    await new Promise((r) => setTimeout(r, 100)); // the page handles the frame it has
    expect(await candidate.page.getByTestId('language').inputValue()).toBe('rust');
    expect((await api(b.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).body.language).toBe('rust');
    expect(candidate.errors).toEqual([]);
  });

  it('two people changing the language at once leave one starting file, named for the language the room ends on, its code kept', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Both at once', 'python');
    // The interviewer's page's frames to the node, held from its next language change on until
    // released: its rename then reaches the candidate after the candidate's own change is answered.
    // Engine.IO's pings and pongs ('2', '3') pass, so a hold on a slow machine does not cost the connection.
    const gate = { armed: false, held: undefined as Array<string | Buffer> | undefined, sockets: 0, release: () => {} };
    const interviewer = await openRoom(browser, node.url, iv.interview.id, iv.token, {
      beforeOpen: (page) =>
        page.routeWebSocket(/\/socket\.io\//, (ws) => {
          gate.sockets++;
          const server = ws.connectToServer();
          ws.onMessage((frame) => {
            if (gate.held && frame !== '2' && frame !== '3') return void gate.held.push(frame);
            server.send(frame);
            if (gate.armed && typeof frame === 'string' && frame.includes('"interview:language"')) {
              gate.armed = false;
              gate.held = [];
            }
          });
          gate.release = () => {
            const frames = gate.held ?? [];
            gate.held = undefined;
            for (const f of frames) server.send(f);
          };
        }),
    });
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await focusEditor(candidate);
    await candidate.page.keyboard.type('x = 1');
    await until(async () => (await interviewer.files())['main.py'] === 'x = 1' && (await candidate.pending()) === 0);
    const languageOf = (p: RoomPage) => p.page.getByTestId('language').inputValue();
    // The node's answers to the candidate's language changes (Socket.IO acks) that made `language`.
    const answers = (language: string) => candidate.frames.filter((f) => /^43\d+\[\{"ok":true,"interview":/.test(f) && f.includes(`"language":"${language}"`)).length;
    const oneFile = async (name: string) => {
      const want = JSON.stringify({ [name]: 'x = 1' });
      return JSON.stringify(await interviewer.files()) === want && JSON.stringify(await candidate.files()) === want;
    };

    // Python to JavaScript (the interviewer, its rename held), then JavaScript to Go (the candidate,
    // answered while its page has no main.js yet); then, the chain coming back, Go to JavaScript
    // to Go (the candidate's page still has a main.go, the one the held rename takes away).
    for (const [round, [theirs, mine]] of [['javascript', 'go'], ['javascript', 'go']].entries()) {
      gate.armed = true;
      await interviewer.page.getByTestId('language').selectOption(theirs!);
      await until(async () => (await languageOf(candidate)) === theirs && gate.held !== undefined);
      const before = answers(mine!);
      await candidate.page.getByTestId('language').selectOption(mine!);
      await until(() => answers(mine!) > before);
      await new Promise((r) => setTimeout(r, 200)); // the page acts on its answer
      expect(Object.keys(await candidate.files())).toEqual([round === 0 ? 'main.py' : 'main.go']);
      gate.release();
      await until(async () => (await languageOf(interviewer)) === mine && (await oneFile('main.go')));
      // And it stays so: no late rename from either page.
      await new Promise((r) => setTimeout(r, 500));
      expect(await oneFile('main.go')).toBe(true);
      expect(await interviewer.page.locator('.file-tab-name').allInnerTexts()).toEqual(['main.go']);
    }
    // One connection all along: the frames held and released were that socket's.
    expect(gate.sockets).toBe(1);
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 60_000);

  it('in a narrow window the sidebar goes under the editor: chat, People and End stay on screen, nothing scrolls sideways', async () => {
    const { interviewer, candidate } = await interviewerAndCandidate('A rather long interview title for a narrow window', 'python');
    for (const width of [600, 375]) {
      await interviewer.page.setViewportSize({ width, height: 760 });
      const onScreen = async (locator: ReturnType<typeof interviewer.page.locator>) => {
        const box = await locator.boundingBox();
        return box !== null && box.x >= 0 && box.x + box.width <= width + 0.5 && box.y + box.height <= 760 + 0.5;
      };
      await until(async () => onScreen(interviewer.page.getByTestId('chat-input')));
      for (const testId of ['end-interview', 'participants', 'connection', 'language', 'run-status']) {
        expect(await onScreen(interviewer.page.getByTestId(testId)), `${testId} at ${width}px`).toBe(true);
      }
      // The editor follows the window's width on its next layout (a ResizeObserver).
      await until(async () => (await interviewer.page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)) <= width);
    }
    // A paste longer than a message may be is cut to fit, and the page says so.
    await interviewer.page.getByTestId('chat-input').focus();
    await interviewer.page.keyboard.insertText('y'.repeat(4100));
    expect((await interviewer.page.getByTestId('chat-input').inputValue()).length).toBe(4000);
    expect(await interviewer.page.locator('.chat-status').innerText()).toBe('A message holds at most 4,000 characters.');
    // Still an editor one can type into.
    await focusEditor(interviewer);
    await interviewer.page.keyboard.type('x = 1');
    await until(async () => (await candidate.text()) === 'x = 1');
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
  });

  it('ending the interview makes every editor read-only with a banner; bad and expired links get clear screens', async () => {
    const { node, iv, interviewer, candidate } = await interviewerAndCandidate('Ending', 'typescript');
    await focusEditor(candidate);
    await candidate.page.keyboard.type('const x = 1;');
    await until(async () => (await interviewer.text()) === 'const x = 1;');


    // The candidate is told the session is recorded; a large paste shows up in the panel channel only.
    await candidate.page.getByTestId('recorded-notice').waitFor({ state: 'visible', timeout: WAIT });
    await focusEditor(candidate);
    await paste(candidate, '\n' + '// pasted '.repeat(12));
    await interviewer.page.locator('.chat-tab[data-channel="panel"]').click();
    await until(async () => (await interviewer.page.getByTestId('chat-list').innerText()).includes('Cy pasted 121 characters into main.ts.'));
    expect(candidate.frames.some((f) => f.includes('"signal"'))).toBe(false);

    // Files: add, rename and delete on one page show up on the other.
    const tabs = (p: RoomPage) => p.page.locator('.file-tab-name').allInnerTexts();
    await interviewer.page.getByRole('button', { name: 'New file' }).click();
    await interviewer.page.getByLabel('New file name').fill('helper.ts');
    await interviewer.page.getByLabel('New file name').press('Enter');
    await until(async () => (await tabs(candidate)).join() === 'helper.ts,main.ts');
    await interviewer.page.locator('.file-tab-name[data-path="helper.ts"]').dblclick();
    // A name the runner could not hold (a space) is refused where it is typed, not left out of runs later.
    await interviewer.page.getByLabel('Rename helper.ts').fill('my util.ts');
    await interviewer.page.getByLabel('Rename helper.ts').press('Enter');
    await interviewer.page.locator('.file-tab-error', { hasText: 'no spaces' }).waitFor({ timeout: WAIT });
    await interviewer.page.getByLabel('Rename helper.ts').fill('util.ts');
    await interviewer.page.getByLabel('Rename helper.ts').press('Enter');
    await interviewer.page.keyboard.type('export {};');
    await until(async () => (await candidate.files())['util.ts'] === 'export {};' && (await tabs(candidate)).join() === 'main.ts,util.ts');
    interviewer.page.once('dialog', (d) => void d.accept());
    await interviewer.page.getByRole('button', { name: 'Delete util.ts' }).click();
    await until(async () => (await tabs(candidate)).join() === 'main.ts');

    // The language switch reaches everyone, and the room's chat says who made it.
    const code = await candidate.text();
    await candidate.page.getByTestId('language').selectOption('go');
    await until(async () => (await interviewer.page.getByTestId('language').inputValue()) === 'go');
    await interviewer.page.locator('.chat-tab[data-channel="room"]').click();
    await until(async () => (await interviewer.page.getByTestId('chat-list').innerText()).includes('Cy changed the language to Go.'));
    await until(async () => (await candidate.page.getByTestId('chat-list').innerText()).includes('You changed the language to Go.'));
    // The file the interview started with follows the language, its code as it was.
    await until(async () => (await tabs(interviewer)).join() === 'main.go' && (await tabs(candidate)).join() === 'main.go');
    for (const p of [interviewer, candidate]) expect(await p.files()).toEqual({ 'main.go': code });
    // Never onto a file already there: with a main.rs, Rust leaves main.go as it is.
    await interviewer.page.getByRole('button', { name: 'New file' }).click();
    await interviewer.page.getByLabel('New file name').fill('main.rs');
    await interviewer.page.getByLabel('New file name').press('Enter');
    await until(async () => (await tabs(candidate)).join() === 'main.go,main.rs');
    // The node's answers to language changes (Socket.IO acks) the interviewer's page has had: the rename, if any, follows one.
    const answers = () => interviewer.frames.filter((f) => /^43\d+\[\{"ok":true,"interview":/.test(f)).length;
    const answered = answers();
    await interviewer.page.getByTestId('language').selectOption('rust');
    await until(async () => (await candidate.page.getByTestId('language').inputValue()) === 'rust');
    await until(async () => (await interviewer.page.getByTestId('chat-list').innerText()).includes('You changed the language to Rust.'));
    await until(() => answers() > answered);
    // Typed after the change was answered: a rename would have reached the candidate before this.
    await interviewer.page.keyboard.type('fn main() {}');
    await until(async () => (await candidate.files())['main.rs'] === 'fn main() {}');
    expect(await tabs(candidate)).toEqual(['main.go', 'main.rs']);
    expect((await candidate.files())['main.go']).toBe(code);
    // Two changes in a row from one page (arrow keys on the select): the file follows both.
    await interviewer.page.getByTestId('language').evaluate((select: any) => {
      for (const value of ['python', 'typescript']) {
        select.value = value;
        select.dispatchEvent(new (globalThis as any).Event('change'));
      }
    });
    await until(async () => (await tabs(candidate)).join() === 'main.go,main.ts');
    expect((await candidate.files())['main.ts']).toBe('fn main() {}');

    interviewer.page.once('dialog', (d) => void d.accept());
    await interviewer.page.getByTestId('end-interview').click();
    for (const p of [interviewer, candidate]) await p.page.getByTestId('ended-banner').waitFor({ state: 'visible', timeout: WAIT });
    await until(async () => (await candidate.page.getByTestId('chat-list').innerText()).includes('Ada ended the interview.'));
    // The clock stops at the end: how long the interview ran.
    const ran = await candidate.page.getByTestId('interview-clock').innerText();
    expect(ran).toMatch(/^\d+:\d\d$/);
    await candidate.page.waitForTimeout(1500);
    expect(await candidate.page.getByTestId('interview-clock').innerText()).toBe(ran);
    // The one who ended it had the server's answer before the broadcast: told all the same.
    await until(async () => (await interviewer.page.getByTestId('chat-list').innerText()).includes('You ended the interview.'));
    // The interviewer's banner offers the replay (in a new tab); the candidate's does not.
    const [replayTab] = await Promise.all([
      interviewer.page.context().waitForEvent('page'),
      interviewer.page.getByTestId('banner-open-replay').click(),
    ]);
    await replayTab.waitForURL(/\/replay\//, { timeout: WAIT });
    await replayTab.close();
    expect(await candidate.page.getByTestId('banner-open-replay').count()).toBe(0);
    const final = await candidate.text();
    await focusEditor(candidate);
    await candidate.page.keyboard.type('more');
    expect(await candidate.text()).toBe(final);

    // A candidate arriving after the end is told so, and may still read the code.
    const page = await browser.context.newPage();
    await page.goto(`${node.url}/room/${iv.interview.id}#token=${await iv.invite('candidate', 'Late')}`);
    await until(async () => (await page.locator('h1').innerText()) === 'This interview has ended');
    await page.getByRole('button', { name: 'View the final code' }).click();
    await page.getByTestId('ended-banner').waitFor({ state: 'visible', timeout: WAIT });

    await page.goto('about:blank');
    await page.goto(`${node.url}/room/${iv.interview.id}#token=not-a-token`);
    await page.getByTestId('screen-error').waitFor({ state: 'visible', timeout: WAIT });
    expect(await page.locator('h1').innerText()).toBe('This link is not valid');
    const expired = await node.server.ctx.tokens.sign({ sub: 'x', name: 'X', role: 'candidate', iid: iv.interview.id }, -10);
    await page.goto('about:blank'); // a fragment-only change would not reload the page
    await page.goto(`${node.url}/room/${iv.interview.id}#token=${expired}`);
    await until(async () => (await page.locator('h1').innerText()) === 'This link has expired');
    // A candidate can only ask for a new link: no start page (where interviewers sign in), no retry.
    expect(await page.locator('.screen-card .actions').count()).toBe(0);
    const expiredInterviewer = await node.server.ctx.tokens.sign({ sub: 'ada', name: 'Ada', role: 'interviewer', iid: iv.interview.id }, -10);
    await page.goto('about:blank');
    await page.goto(`${node.url}/room/${iv.interview.id}#token=${expiredInterviewer}`);
    await until(async () => (await page.locator('h1').innerText()) === 'This link has expired');
    expect(await page.locator('.screen-card .actions').innerText()).toBe('Go to the start page');
    const elsewhere = await node.server.ctx.tokens.sign({ sub: 'x', name: 'X', role: 'candidate', iid: 'nope' }, 600);
    await page.goto('about:blank');
    await page.goto(`${node.url}/room/nope#token=${elsewhere}`);
    await until(async () => (await page.locator('h1').innerText()) === 'Interview not found');
    await page.close();
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 60_000);

  it('a page refused for too many connections of that person keeps asking, and gets in once one of them has gone', async () => {
    const node = await startNode({ maxSocketsPerPerson: 1 }, NODE_OPTIONS);
    const iv = await createInterview(node);
    const token = await iv.invite('candidate', 'Cy');
    const first = await openRoom(browser, node.url, iv.interview.id, token);
    // The same link in a second tab: one connection is all this person may have here.
    const second = await browser.context.newPage();
    const errors: string[] = [];
    second.on('pageerror', (e) => errors.push(String(e)));
    await second.goto(`${node.url}/room/${iv.interview.id}#token=${token}`);
    const connected = () => second.evaluate(() => Boolean((globalThis as any).duetDebug?.connected()));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await connected()).toBe(false);
    expect(await second.getByTestId('screen-error').count()).toBe(0);
    // Like a tab whose socket died: once it is gone, the waiting page comes in on its own.
    await first.page.close();
    await until(connected);
    await second.getByTestId('end-interview').or(second.getByTestId('editor')).first().waitFor({ timeout: WAIT });
    expect(errors).toEqual([]);
    await second.close();
  });

  it("Ctrl+Z undoes this page's own edit, not the text someone else typed since; Ctrl+Shift+Z redoes it", async () => {
    const { node, iv, interviewer, candidate } = await interviewerAndCandidate('Undo', 'python');
    await focusEditor(candidate);
    await candidate.page.keyboard.type('hello');
    await until(async () => (await interviewer.text()) === 'hello');
    // The interviewer types before it, on their page.
    await interviewer.page.bringToFront();
    await focusEditor(interviewer);
    await interviewer.page.keyboard.press('Control+Home');
    await interviewer.page.keyboard.type('XYZ ');
    await until(async () => (await candidate.text()) === 'XYZ hello');
    await candidate.page.bringToFront();
    await focusEditor(candidate);
    await candidate.page.keyboard.press('Control+z');
    await until(async () => (await candidate.text()) === 'XYZ ' && (await interviewer.text()) === 'XYZ ');
    await candidate.page.keyboard.press('Control+Shift+z');
    await until(async () => (await candidate.text()) === 'XYZ hello' && (await interviewer.text()) === 'XYZ hello');
    // Nothing of the interviewer's is the candidate's to undo.
    await candidate.page.keyboard.press('Control+z');
    await candidate.page.keyboard.press('Control+z');
    await until(async () => (await interviewer.text()) === 'XYZ ');
    // In the find box, Ctrl+Z is the box's: the code stays.
    await candidate.page.keyboard.type('hello world');
    await until(async () => (await interviewer.text()) === 'XYZ hello world');
    await candidate.page.keyboard.press('Control+f');
    await candidate.page.keyboard.type('wor');
    await candidate.page.keyboard.press('Control+z');
    await new Promise((r) => setTimeout(r, 300));
    expect(await candidate.text()).toBe('XYZ hello world');
    await candidate.page.keyboard.press('Escape');
    // An undo far from the view brings it into view: the first line, from the last.
    await focusEditor(candidate);
    await candidate.page.keyboard.press('Control+End');
    for (let i = 0; i < 60; i++) await candidate.page.keyboard.press('Enter');
    await new Promise((r) => setTimeout(r, 700)); // a separate undo step
    await candidate.page.keyboard.press('Control+Home');
    await candidate.page.keyboard.type('TOP');
    await new Promise((r) => setTimeout(r, 700));
    await candidate.page.keyboard.press('Control+End');
    const firstLineShown = async () => (await candidate.page.locator('.margin-view-overlays .line-numbers').allInnerTexts()).includes('1');
    await until(async () => !(await firstLineShown()));
    await candidate.page.keyboard.press('Control+z');
    await until(async () => (await candidate.text()).startsWith('XYZ hello world\n') && (await firstLineShown()));
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 60_000);

  it('a paste too large to store is refused where it is made; one refused all the same shows "Not saved" until it is undone', async () => {
    const { node, iv, interviewer, candidate } = await interviewerAndCandidate('Pastes', 'python');
    const status = (p: RoomPage) => p.page.getByTestId('connection');
    const toasts = (p: RoomPage) => p.page.locator('.toast').allInnerTexts();

    /** The candidate's paste is refused where it is made, with a toast saying `why`: the text stays as it was. */
    const refusedPaste = async (text: string, why: string) => {
      const before = await candidate.text();
      await paste(candidate, text);
      await until(async () => (await toasts(candidate)).some((t) => t.includes(why)));
      expect(await candidate.text()).toBe(before);
    };

    // More than one update can carry: the page refuses it, and nothing changes anywhere.
    await focusEditor(candidate);
    await refusedPaste('x'.repeat(1_100_000), 'That paste is too large');
    // One update could carry this paste once, not at two cursors: refused, saying why.
    await candidate.page.keyboard.type('a');
    await candidate.page.keyboard.press('Enter');
    await candidate.page.keyboard.type('b');
    await candidate.page.keyboard.press('Control+Home');
    await candidate.page.keyboard.press('Shift+Alt+ArrowDown'); // Monaco on Linux: a cursor below too
    await refusedPaste('y'.repeat(600_000), '600,000 characters at each of 2 cursors');
    await candidate.page.keyboard.press('Escape');
    await candidate.page.keyboard.press('Control+a');
    await candidate.page.keyboard.press('Delete');
    await until(async () => (await candidate.text()) === '' && (await candidate.pending()) === 0 && (await interviewer.text()) === '');

    // Two pastes at once, each fine alone, too much together: the node takes the first, refuses the second.
    const block = (c: string) => `${c.repeat(99)}\n`.repeat(6000);
    const held = holdNextStoreAnswer(node.server.ctx.store, 'appendMany');
    await interviewer.page.bringToFront();
    await focusEditor(interviewer);
    await paste(interviewer, block('a'));
    await held.answered;
    await candidate.page.bringToFront();
    await focusEditor(candidate);
    await paste(candidate, block('b'));
    await until(async () => (await candidate.text()).length === 600_000);
    held.release();
    await until(async () => (await status(candidate).getAttribute('data-state')) === 'refused');
    expect(await status(candidate).innerText()).toBe('Not saved');
    await until(async () => (await toasts(candidate)).some((t) => t.includes('Undo it (Ctrl+Z)')));
    // Undone, what the candidate has goes through again.
    await candidate.page.keyboard.press('Control+z');
    await until(async () => (await status(candidate).getAttribute('data-state')) === 'connected');
    await until(async () => (await candidate.text()) === block('a') && (await interviewer.text()) === block('a'));
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 90_000);

  it("a link that expires while edits are unconfirmed shows the page's code to copy, not just the expiry", async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Expiring', 'python');
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    // The node takes the edit but has not confirmed it when the token runs out.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'appendMany');
    await focusEditor(candidate);
    await candidate.page.keyboard.type('print("my unsaved work")');
    await until(async () => (await candidate.pending()) > 0);
    // The token runs out now, whatever the time the steps above took (the node's sweep looks every second).
    for (const s of node.server.ctx.io.of('/').sockets.values()) if (s.data.actor.name === 'Cy') s.data.claims.exp = 0;
    await until(async () => (await candidate.page.locator('h1').innerText()) === 'This link has expired');
    expect(await candidate.page.getByTestId('unsaved-code').inputValue()).toBe('print("my unsaved work")');
    held.release();
    await candidate.page.close();
  }, 60_000);

  it('an interviewer revokes a link from the Invite tab: whoever is in the room on it is shown out', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Revoking', 'python');
    const interviewer = await openRoom(browser, node.url, iv.interview.id, iv.token);
    await interviewer.page.locator('.side-tab[data-tab="invite"]').click();
    await interviewer.page.getByLabel('Candidate name').fill('Cy');
    await interviewer.page.locator('button[data-invite="candidate"]').click();
    const link = interviewer.page.getByLabel('Candidate link');
    await until(async () => /#token=/.test(await link.inputValue()));
    const token = (await link.inputValue()).split('#token=')[1]!;
    const handedOut = interviewer.page.getByTestId('handed-out');
    await until(async () => (await handedOut.innerText()).includes('Cy'));

    const candidate = await openRoom(browser, node.url, iv.interview.id, token);
    interviewer.page.once('dialog', (d) => void d.accept());
    await interviewer.page.getByRole('button', { name: 'Revoke Cy (candidate)' }).click();
    await until(async () => (await candidate.page.locator('h1').innerText()) === 'This link was revoked');
    await until(async () => /Cy\s*· candidate\s*revoked/.test(await handedOut.innerText()));
    expect(await interviewer.page.getByRole('button', { name: 'Revoke Cy (candidate)' }).count()).toBe(0);
    // Cy's caret leaves the interviewer's editor with Cy.
    await until(async () => (await interviewer.page.locator('.duet-label').count()) === 0);
    await screenshot(interviewer, 'invite-links.png');
    expect(interviewer.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 60_000);

  it('the start page signs in with a token, creates an interview from starter code with a candidate link, lists it and opens the room', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const owner = await interviewerToken(node);
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(String(e)));
    await page.goto(`${node.url}/#token=${owner}`);
    await page.getByTestId('title').waitFor({ timeout: WAIT });
    expect(page.url()).not.toContain('token=');
    await page.getByTestId('title').fill('Frontend pairing');
    await page.getByLabel('Language').selectOption('typescript');
    await page.getByLabel('Candidate name').fill('Grace');
    const starter = 'export function twoSum(xs: number[], target: number): number[] {\n  return [];\n}\n';
    await page.getByLabel('Starter code').fill(starter);
    await page.getByRole('button', { name: 'Create interview' }).click();
    const link = page.getByLabel('Candidate link (send this to the candidate)');
    await link.waitFor({ timeout: WAIT });
    expect(await link.inputValue()).toMatch(/\/room\/[^#]+#token=/);
    await until(async () => (await page.getByTestId('interview-list').innerText()).includes('Frontend pairing'));
    await screenshot({ page } as RoomPage, 'landing.png');
    await page.getByTestId('open-room').click();
    await page.getByTestId('end-interview').waitFor({ timeout: WAIT });
    expect(await page.locator('.room-title').innerText()).toBe('Frontend pairing');
    // The room opens on the starter code, in the language's one file.
    const shown = async () => (await page.locator('.editor-pane .view-lines').innerText()).replace(/\u00a0/g, ' ');
    await until(async () => (await shown()).includes('export function twoSum(xs: number[], target: number): number[] {'));
    expect(await page.locator('.file-tab-name').allInnerTexts()).toEqual(['main.ts']);
    // Opened from the list in another tab (which keeps no room token), the room has the same person,
    // not a new invitee: one entry in People, and no invite made for it.
    const id = /\/room\/([^#/?]+)/.exec(page.url())![1]!;
    const again = await browser.context.newPage();
    await again.goto(`${node.url}/#token=${owner}`);
    await again.getByRole('button', { name: 'Open room' }).click();
    await again.getByTestId('end-interview').waitFor({ timeout: WAIT });
    await until(async () => (await again.getByTestId('participants').innerText()).includes('Ada (you)'));
    await until(async () => (await page.getByTestId('participants').locator('li').allInnerTexts()).length === 1);
    expect((await page.getByTestId('participants').innerText()).replace(/\s+/g, ' ').toLowerCase()).toContain('ada (you) interviewer');
    const invites = await api(node.url, `/api/interviews/${id}/invites`, { token: owner });
    expect(invites.body.invites.map((i: { name: string }) => i.name)).toEqual(['Grace']);
    expect((await api(node.url, `/api/interviews/${id}/document`, { token: owner })).body).toEqual({ files: { 'main.ts': starter } });
    await again.close();
    // Fifty made since (by the API, a millisecond or so apart): the start page lists the newest 50,
    // in the order they were made, and this one, the oldest, a click later.
    const titles: string[] = [];
    for (let i = 1; i <= 50; i++) {
      titles.unshift(`Pad ${i}`);
      expect((await api(node.url, '/api/interviews', { token: owner, body: { title: `Pad ${i}` } })).status).toBe(201);
    }
    // Back on the start page (the sign-in survives in this tab), the list opens the replay.
    await page.goto(`${node.url}/`);
    const listed = () => page.getByTestId('interview-list').locator('tbody tr td:first-child').allInnerTexts();
    await until(async () => (await listed()).length > 0);
    expect(await listed()).toEqual(titles);
    await page.getByTestId('list-more').click();
    await until(async () => (await listed()).length === 51);
    expect(await listed()).toEqual([...titles, 'Frontend pairing']);
    expect(await page.getByTestId('list-more').count()).toBe(0);
    // Searched by a part of the title, in any case, the list follows as typing pauses.
    await page.getByTestId('list-search').fill('pad 4');
    const padFours = ['Pad 49', 'Pad 48', 'Pad 47', 'Pad 46', 'Pad 45', 'Pad 44', 'Pad 43', 'Pad 42', 'Pad 41', 'Pad 40', 'Pad 4'];
    await until(async () => (await listed()).join() === padFours.join());
    await page.getByTestId('list-search').fill('no such title');
    await until(async () => (await page.getByTestId('interview-list').innerText()).includes('No interview has “no such title” in its title.'));
    await page.getByTestId('list-search').fill('FRONTEND');
    await until(async () => (await listed()).join() === 'Frontend pairing');
    await page.getByRole('row', { name: /Frontend pairing/ }).getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL(/\/replay\//, { timeout: WAIT });
    await until(async () => (await page.locator('h1').first().innerText()).includes('Frontend pairing'));
    expect(page.url()).not.toContain('token=');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it.skipIf(!hasBwrap)('Run streams the output to everyone; the interviewer can take Run away from the candidate', async () => {
    const node = await startNode({ runner: defaultRunnerConfig(TEST_LIMITS) }, NODE_OPTIONS);
    await node.server.ctx.runner.whenReady();
    const iv = await createInterview(node, 'Runs', 'python');
    const interviewer = await openRoom(browser, node.url, iv.interview.id, iv.token);
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await focusEditor(candidate);
    await candidate.page.keyboard.type('print(6 * 7, "from the sandbox")');
    await until(async () => (await candidate.pending()) === 0 && (await interviewer.text()).endsWith('sandbox")'));
    await candidate.page.getByTestId('run').click();
    for (const p of [candidate, interviewer]) {
      await until(async () => (await p.page.getByTestId('run-output').innerText()).includes('42 from the sandbox'));
      await until(async () => /exited with code 0/.test(await p.page.getByTestId('run-status').innerText()));
    }
    await screenshot(candidate, 'room-run.png');
    await interviewer.page.getByLabel('Candidate may run').uncheck();
    await candidate.page.getByTestId('run').waitFor({ state: 'hidden', timeout: WAIT });
    // The candidate is told why the button went away, and when it is back.
    expect(await candidate.page.getByTestId('run-status').innerText()).toBe('The interviewer has turned off running code for you.');
    await interviewer.page.getByLabel('Candidate may run').check();
    await candidate.page.getByTestId('run').waitFor({ state: 'visible', timeout: WAIT });
    expect(await candidate.page.getByTestId('run-status').innerText()).toBe('The interviewer has turned running code back on.');
    // A language the server has no runner for: no Run that could only fail, and everyone is told why.
    await interviewer.page.getByTestId('language').selectOption('java');
    for (const p of [interviewer, candidate]) {
      await p.page.getByTestId('run').waitFor({ state: 'hidden', timeout: WAIT });
      expect(await p.page.getByTestId('run-status').innerText()).toBe('This server does not run Java code.');
    }
    await interviewer.page.getByTestId('language').selectOption('python');
    await candidate.page.getByTestId('run').waitFor({ state: 'visible', timeout: WAIT });
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
  }, 60_000);

  it.skipIf(!hasBwrap)('a page opened during a run shows its output so far, and after a reconnection the rest once; after the run, a reload shows the last run', async () => {
    // The run ticks until the test stops it, so it is still going when the
    // page reconnects however slow the machine (a fixed sleep ran out first in CI).
    const code = 'import time\nprint("before you came", flush=True)\nfor i in range(150):\n    time.sleep(0.2)\n    print(f"tick {i}", flush=True)\n';
    const { node, iv, interviewer } = await runnerRoom('Late output', code, { wallTimeMs: 40_000 });
    const runs = watchRuns(interviewer.socket);
    const runId = runIdOf(await startRun(interviewer.socket));
    await until(() => runs.view(runId).stdout().startsWith('before you came\n'));
    const observer = await openRoom(browser, node.url, iv.interview.id, await iv.invite('observer', 'Obi'));
    const output = observer.page.getByTestId('run-output');
    await until(async () => (await output.innerText()).includes('before you came'));
    expect(await observer.page.getByTestId('run-status').innerText()).toMatch(/Running main\.py/);
    // The connection drops mid-run: the page is sent the output so far again, which it already shows.
    const sentSoFar = () => observer.frames.filter((f) => f.startsWith('42["run:output"') && f.includes('before you came')).length;
    expect(sentSoFar()).toBe(1);
    for (const s of node.server.ctx.io.of('/').sockets.values()) if (s.data.actor.name === 'Obi') s.conn.close();
    await until(() => sentSoFar() === 2);
    // Then output made after the reconnection arrives too, and nothing shows twice.
    const ticksBefore = runs.view(runId).stdout().split('tick').length - 1;
    await until(async () => (await output.innerText()).includes(`tick ${ticksBefore + 1}\n`));
    expect(await interviewer.socket.emitWithAck('run:stop', { runId })).toEqual({ ok: true });
    await until(async () => /stopped by Ada/.test(await observer.page.getByTestId('run-status').innerText()));
    const all = (await runs.exited(runId)).placed();
    expect(all).toMatch(/^before you came\n(tick \d+\n)+$/);
    expect(await output.innerText()).toBe(all);

    // A reload after the run (once it is logged): the panel shows the last run, who ran it and how it ended.
    await until(async () => (await node.server.ctx.store.latestEvent(iv.interview.id, 'run'))?.data.runId === runId);
    await observer.page.reload();
    await until(async () => /^Last run, by Ada: main\.py: stopped by Ada/.test(await observer.page.getByTestId('run-status').innerText()));
    expect(await output.innerText()).toBe(all);
    expect(await output.isVisible()).toBe(true);
    expect(observer.errors).toEqual([]);
  }, 60_000);

  it.skipIf(!hasBwrap)("output so far from the node running it, reaching a page after newer output, goes before that output", async () => {
    const runner = defaultRunnerConfig({ ...TEST_LIMITS, wallTimeMs: 40_000, cpuSeconds: 5, uidBase: 410_000, uidCount: 1000 });
    const { nodes } = await startCluster(2, { runner }, NODE_OPTIONS);
    const [a, b] = nodes as [TestNode, TestNode];
    await a.server.ctx.runner.whenReady();
    const iv = await createInterview(a, 'Late answer', 'python');
    const interviewer = await connectClient(a.url, iv.token);
    // A line every 100 ms until the test stops it: the page joins while it prints, however busy the machine.
    await writeCode(interviewer, 'import time\nfor i in range(300):\n    print(f"line {i}", flush=True)\n    time.sleep(0.1)\n');
    // Node B asks node A for its run (and the output so far) only when the
    // test lets it, once the page shows the run's next lines: the joiner's
    // run settings, read just before that question, are held until then.
    const settingsRead = holdNextStoreAnswer(b.server.ctx.store, 'latestEvent', 0, (args) => args[1] === 'run_settings');
    const runs = watchRuns(interviewer.socket);
    const runId = runIdOf(await startRun(interviewer.socket));
    await until(() => runs.view(runId).stdout().startsWith('line 0\n'));
    const observer = await openRoom(browser, b.url, iv.interview.id, await iv.invite('observer', 'Obi'));
    const outputFrames = () => observer.frames.filter((f) => f.startsWith('42["run:output"'));
    const shown = () => observer.page.getByTestId('run-output').innerText();
    // Later lines are shown at once, without waiting for what came before them.
    await until(async () => /line \d+/.test(await shown()));
    expect(await shown()).not.toContain('line 0\n');
    settingsRead.release();
    // The output so far (from offset 0) reaches the page after later lines did, and goes before them.
    await until(() => outputFrames().some((f) => f.includes('"offset":0')));
    expect(outputFrames()[0]).not.toContain('"offset":0');
    expect(await interviewer.socket.emitWithAck('run:stop', { runId })).toEqual({ ok: true });
    await until(async () => /stopped by Ada/.test(await observer.page.getByTestId('run-status').innerText()));
    const lines = (await runs.exited(runId)).placed();
    expect(lines).toMatch(/^line 0\nline 1\n(line \d+\n)+$/);
    expect(await observer.page.getByTestId('run-output').innerText()).toBe(lines);
    expect(observer.errors).toEqual([]);
  }, 60_000);

  it.skipIf(!hasBwrap)('ending the interview during a run stops it on every page, and the replay has the run', async () => {
    const { node, iv } = await runnerRoom('Ended mid-run', 'import time\nprint("still thinking", flush=True)\ntime.sleep(60)\n', { wallTimeMs: 30_000 });
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await candidate.page.bringToFront();
    await candidate.page.getByTestId('run').click();
    await until(async () => (await candidate.page.getByTestId('run-output').innerText()).includes('still thinking'));

    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    await candidate.page.getByTestId('ended-banner').waitFor({ state: 'visible', timeout: WAIT });
    await until(async () => /^main\.py: stopped by Ada after/.test(await candidate.page.getByTestId('run-status').innerText()));

    // The panel's replay lists the run, with what it printed and who stopped it.
    const replay = await browser.context.newPage();
    await replay.goto(`${node.url}/replay/${iv.interview.id}#token=${await iv.invite('reviewer', 'Rita')}`);
    await until(() => replay.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await replay.keyboard.press('End');
    await replay.getByRole('tab', { name: /^Runs/ }).click();
    await until(async () => {
      const runs = await replay.getByTestId('replay-runs').innerText();
      return runs.includes('still thinking') && /main\.py: stopped by Ada after/.test(runs);
    });
    expect(candidate.errors).toEqual([]);
    await Promise.all([candidate.page.close(), replay.close()]);
  }, 60_000);

  it.skipIf(!hasBwrap)("the candidate gives a run its input; everyone sees what it read, and so does the replay", async () => {
    const { node, iv } = await runnerRoom('Input', 'a = int(input())\nb = int(input())\nprint(a * b)\n');
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    const observer = await openRoom(browser, node.url, iv.interview.id, await iv.invite('observer', 'Obi'));
    // Observers do not run, so they have no input box either.
    expect(await observer.page.getByTestId('run-input-toggle').count()).toBe(1);
    expect(await observer.page.getByTestId('run-input-toggle').isHidden()).toBe(true);
    await candidate.page.bringToFront();
    await candidate.page.getByTestId('run-input-toggle').click();
    await candidate.page.getByTestId('run-stdin').fill('6\n7\n');
    await candidate.page.getByTestId('run').click();
    await until(async () => /exited with code 0/.test(await observer.page.getByTestId('run-status').innerText()));
    expect(await observer.page.getByTestId('run-output').textContent()).toBe('42\n');
    const used = observer.page.getByTestId('run-input-used');
    expect(await used.locator('summary').innerText()).toBe('Input (2 lines)');
    expect(await used.locator('pre').textContent()).toBe('6\n7\n');
    await screenshot(candidate, 'run-input.png');

    // Collapsed with the box open, the panel opens again, box and all, at a click on Input.
    const toggle = candidate.page.getByTestId('run-input-toggle');
    expect(await toggle.getAttribute('aria-label')).toBe('Input (has text)');
    await candidate.page.getByTitle('Show or hide the output').click();
    await candidate.page.getByTestId('run-stdin').waitFor({ state: 'hidden', timeout: WAIT });
    await toggle.click();
    await candidate.page.getByTestId('run-stdin').waitFor({ state: 'visible', timeout: WAIT });
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    // A reload keeps what is in the box (the tab's session storage).
    await candidate.page.reload();
    await toggle.click({ timeout: WAIT });
    expect(await candidate.page.getByTestId('run-stdin').inputValue()).toBe('6\n7\n');

    // The box emptied: the next run reads nothing, and shows no input.
    await candidate.page.getByTestId('run-stdin').fill('');
    await candidate.page.getByTestId('run').click();
    await until(async () => /exited with code 1/.test(await observer.page.getByTestId('run-status').innerText()));
    expect(await observer.page.getByTestId('run-output').textContent()).toContain('EOFError');
    expect(await used.count()).toBe(1);
    expect(await used.locator('details').count()).toBe(0);

    // The replay's Runs tab shows the first run's input beside its output.
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    const replay = await browser.context.newPage();
    await replay.goto(`${node.url}/replay/${iv.interview.id}#token=${await iv.invite('reviewer', 'Rita')}`);
    await until(() => replay.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await replay.keyboard.press('End');
    await replay.getByRole('tab', { name: /^Runs/ }).click();
    await until(async () => (await replay.locator('.replay-run').count()) === 2);
    const first = replay.locator('.replay-run').first();
    expect(await first.locator('.run-input-used summary').innerText()).toBe('Input (2 lines)');
    expect(await first.locator('.run-output').textContent()).toBe('42\n');
    expect(await replay.locator('.replay-run').nth(1).locator('.run-input-used').count()).toBe(0);
    for (const p of [candidate, observer]) expect(p.errors).toEqual([]);
    await Promise.all([candidate.page.close(), observer.page.close(), replay.close()]);
  }, 60_000);

  it("a joiner's run settings, read before a change it then heard of, do not undo that change", async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Late settings', 'python');
    // The candidate's page is in the room; its copy of the settings is read (the default) and held.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'latestEvent', 0, (args) => args[1] === 'run_settings');
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    expect(await held.answered).toBeUndefined();
    expect(await candidate.page.getByTestId('run').isVisible()).toBe(true);
    // Meanwhile an interviewer turns candidate runs off, and the page hears it.
    const interviewer = await connectClient(node.url, iv.token);
    expect(await interviewer.socket.emitWithAck('run:settings', { candidateMayRun: false })).toMatchObject({ candidateMayRun: false });
    await candidate.page.getByTestId('run').waitFor({ state: 'hidden', timeout: WAIT });
    // The older copy arrives last.
    const sent = () => candidate.frames.filter((f) => f.includes('"run:settings"')).length;
    const before = sent();
    held.release();
    await until(() => sent() > before);
    await new Promise((r) => setTimeout(r, 100)); // the page handles the frame it has
    expect(await candidate.page.getByTestId('run').isVisible()).toBe(false);
    expect(candidate.errors).toEqual([]);
  });

  it.skipIf(!hasBwrap)("a run's state sent to a joiner after that run's exit does not leave its page on Running", async () => {
    const { node, iv, interviewer } = await runnerRoom('Late run state', 'print("done")\n');
    await until(() => interviewer.participantEvents() > 0);
    const { opening, held } = await candidateHeldBeforeSession(node, iv);
    // A run starts and ends while the candidate's page joins: it hears both.
    const runs = watchRuns(interviewer.socket);
    const runId = runIdOf(await startRun(interviewer.socket));
    await runs.exited(runId);
    // The join then asks who runs and is told of that run, as when another node's
    // answer was made before the run ended and reaches this node after its exit.
    pretendRunInProgress(node, iv.interview.id, runs.view(runId).states.at(-1)!);
    held.release();
    const candidate = await opening;
    // The state of the ended run reaches the page after its exit did.
    await until(() => {
      const exitAt = candidate.frames.findIndex((f) => f.includes('"run:exit"') && f.includes(runId));
      return exitAt >= 0 && candidate.frames.slice(exitAt + 1).some((f) => f.includes('"run:state"') && f.includes(runId));
    });
    await new Promise((r) => setTimeout(r, 100)); // the page handles the frame it has
    expect(await candidate.page.getByTestId('run-status').innerText()).toMatch(/exited with code 0/);
    expect(await candidate.page.getByTestId('run').isDisabled()).toBe(false);
    expect(candidate.errors).toEqual([]);
  });

  it.skipIf(!hasBwrap)('output of an ended run that reaches a joiner late, while a later run is on screen, does not replace it', async () => {
    const { node, iv, interviewer } = await runnerRoom('Late output of an ended run', 'print("first")\n');
    await until(() => interviewer.participantEvents() > 0);
    const { opening, held } = await candidateHeldBeforeSession(node, iv);
    // Two runs start and end while the candidate's page joins: it hears all of both.
    const runs = watchRuns(interviewer.socket);
    const first = runIdOf(await startRun(interviewer.socket));
    await runs.exited(first);
    await writeCode(interviewer, 'print("second")\n');
    const second = runIdOf(await startRun(interviewer.socket));
    await runs.exited(second);
    // The join is then told of the first run as running, with output, as another
    // node's answer made before that run ended would reach it.
    pretendRunInProgress(node, iv.interview.id, runs.view(first).states.at(-1)!, [{ stream: 'stdout', data: 'late output of the first run\n', ms: 1 }]);
    held.release();
    const candidate = await opening;
    await until(() => candidate.frames.some((f) => f.includes('late output of the first run')));
    await handledSoFar(candidate, interviewer);
    expect(await candidate.page.getByTestId('run-output').textContent()).toBe('second\n');
    expect(await candidate.page.getByTestId('run-status').innerText()).toMatch(/exited with code 0/);
    expect(candidate.errors).toEqual([]);
  });

  it.skipIf(!hasBwrap)('after a reconnection, a last run older than the run on screen does not replace it', async () => {
    const { node, iv, interviewer } = await runnerRoom('Older last run', 'print("first")\n');
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    const { store } = node.server.ctx;
    const runs = watchRuns(interviewer.socket);
    const first = runIdOf(await startRun(interviewer.socket));
    await runs.exited(first);
    await until(async () => (await store.latestEvent(iv.interview.id, 'run'))?.data.runId === first);
    const firstLogged = (await store.latestEvent(iv.interview.id, 'run'))!;
    await writeCode(interviewer, 'print("second")\n');
    // Over (the node no longer has it in progress), so a joiner is sent the log's last run.
    await runs.exited(runIdOf(await startRun(interviewer.socket)));
    await until(async () => (await candidate.page.getByTestId('run-output').textContent()) === 'second\n');
    // The log's last run is still the first one, as just after the second's exit, before its record.
    const latest = store.latestEvent.bind(store);
    store.latestEvent = async (id, type) => (id === iv.interview.id && type === 'run' ? firstLogged : latest(id, type));
    onTestFinished(() => void (store.latestEvent = latest));
    for (const s of node.server.ctx.io.of('/').sockets.values()) if (s.data.actor.name === 'Cy') s.conn.close();
    await until(() => candidate.frames.some((f) => f.includes('"run:last"') && f.includes(first)));
    await handledSoFar(candidate, interviewer);
    expect(await candidate.page.getByTestId('run-output').textContent()).toBe('second\n');
    expect(await candidate.page.getByTestId('run-status').innerText()).toMatch(/exited with code 0/);
    expect(candidate.errors).toEqual([]);
  });

  it('after the node restarts the pages reconnect, keep their text, and send what was typed while it was down', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir }, { ...NODE_OPTIONS, keepOpen: true });
    onTestFinished(() => first.close()); // closed by hand below; this covers a failure before that
    const port = Number(new URL(first.url).port);
    const iv = await createInterview(first, 'Restart', 'python');
    const interviewer = await openRoom(browser, first.url, iv.interview.id, iv.token);
    const candidate = await openRoom(browser, first.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    await focusEditor(candidate);
    await candidate.page.keyboard.type('before');
    await until(async () => (await interviewer.text()) === 'before' && (await candidate.pending()) === 0);

    await first.close();
    await until(async () => !(await candidate.connected()) && !(await interviewer.connected()));
    await focusEditor(candidate);
    await candidate.page.keyboard.type(' offline');
    await focusEditor(interviewer);
    await interviewer.page.keyboard.type(' also');
    expect(await candidate.pending()).toBeGreaterThan(0);
    await until(async () => (await candidate.page.getByTestId('connection').getAttribute('data-state')) !== 'connected');
    expect(await candidate.page.getByTestId('connection').innerText()).toMatch(/waiting/);
    // People does not claim to know who is online while the page is not connected.
    await candidate.page.getByTestId('participants-unknown').waitFor({ state: 'visible', timeout: WAIT });
    // Run and chat say at once that they are offline (Run waited 15 s for an answer).
    await candidate.page.getByTestId('run').click();
    expect(await candidate.page.getByTestId('run-status').innerText()).toMatch(/^Offline: the run did not start/);
    await candidate.page.getByTestId('chat-input').fill('sent once back');
    await candidate.page.getByTestId('chat-input').press('Enter');
    const chatStatus = candidate.page.locator('.chat-status');
    expect(await chatStatus.innerText()).toMatch(/^Offline: the message was not sent/);

    const second = await startNodeAt(port, dataDir);
    try {
      const final = await waitFor(async () => {
        const ok = (await candidate.connected()) && (await interviewer.connected()) && (await candidate.pending()) === 0 && (await interviewer.pending()) === 0;
        return ok && (await sameText([interviewer, candidate]));
      }, 15_000, 50);
      expect(final).toContain('before');
      expect(final).toContain(' offline');
      expect(final).toContain(' also');
      await candidate.page.getByTestId('participants-unknown').waitFor({ state: 'hidden', timeout: WAIT });
      // Back online, the chat's offline notice does not linger: the message waits for Enter.
      await until(async () => (await chatStatus.innerText()) === 'Connected again: press Enter to send your message.');
      await candidate.page.getByTestId('chat-input').press('Enter');
      await until(async () => (await interviewer.page.getByTestId('chat-list').innerText()).includes('sent once back'));
      const stored = await api(second.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
      expect(stored.body.files['main.py']).toBe(final);
    } finally {
      await Promise.all([interviewer, candidate].map((p) => p.page.close()));
      await second.close();
    }
    // Failed connection attempts while the node was down are the browser's own network log lines.
    for (const p of [interviewer, candidate]) expect(p.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e))).toEqual([]);
  }, 60_000);

  it('a file renamed while a page was reconnecting keeps what that page typed meanwhile', async () => {
    const { node, iv, interviewer, candidate } = await interviewerAndCandidate('Rename while away', 'python');
    await focusEditor(candidate);
    await candidate.page.keyboard.type('x = 1\nprint()');
    await until(async () => (await interviewer.text()) === 'x = 1\nprint()' && (await candidate.pending()) === 0);
    // The candidate's connection drops, and its way back in waits at the handshake's read of the interview.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'getInterview');
    for (const s of node.server.ctx.io.of('/').sockets.values()) if (s.data.actor.name === 'Cy') s.conn.close();
    await held.answered;
    await focusEditor(candidate);
    await candidate.page.keyboard.press('ArrowLeft');
    await candidate.page.keyboard.type('x');
    expect(await candidate.connected()).toBe(false);
    // Meanwhile the interviewer renames the file: the copy has only what the interviewer's page had.
    await interviewer.page.locator('.file-tab-name[data-path="main.py"]').dblclick();
    await interviewer.page.getByLabel('Rename main.py').fill('solution.py');
    await interviewer.page.getByLabel('Rename main.py').press('Enter');
    await until(async () => Object.keys(await interviewer.files()).join() === 'solution.py' && (await interviewer.pending()) === 0);
    held.release();

    const both = 'x = 1\nprint(x)';
    await until(async () => (await candidate.connected()) && (await candidate.pending()) === 0 && (await interviewer.files())['solution.py'] === both);
    expect(await candidate.files()).toEqual({ 'solution.py': both });
    expect(await candidate.page.locator('.file-tab-name').allInnerTexts()).toEqual(['solution.py']);
    // The editor shows it once, and typing goes on where it was, inside the brackets: the caret
    // followed the rename, and stayed after the typing put back.
    const shown = async () => (await candidate.page.locator('.editor-pane .view-lines').innerText()).replace(/\u00a0/g, ' ');
    expect(await shown()).toBe(both);
    await candidate.page.keyboard.type('!');
    const after = 'x = 1\nprint(x!)';
    await until(async () => (await candidate.pending()) === 0 && (await interviewer.files())['solution.py'] === after);
    expect(await shown()).toBe(after);
    const stored = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(stored.body.files).toEqual({ 'solution.py': after });
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
  });

  it('counts edits turned away as unsaved until they are stored again, and asks before the tab closes meanwhile', async () => {
    // A low per-socket limit: typing fast gets some keystrokes refused (rate_limited), and the page resyncs to send them.
    const node = await startNode({ socketEventsPerSecond: 5, socketEventBurst: 10 }, NODE_OPTIONS);
    const iv = await createInterview(node, 'Unsaved', 'python');
    const candidate = await openRoom(browser, node.url, iv.interview.id, await iv.invite('candidate', 'Cy'));
    // Every read of the log takes 1.5 s: the resync's answer waits for one, so it is slow to come back.
    const slow = slowStoreCalls(node.server.ctx.store, 'readEvents', 1500);
    const line = 'print("a line typed faster than the node takes it")';
    await focusEditor(candidate);
    await candidate.page.keyboard.type(line);
    expect(await candidate.pending()).toBeGreaterThan(0);
    const dialogs: string[] = [];
    candidate.page.on('dialog', (d) => {
      dialogs.push(d.type());
      void d.dismiss();
    });
    await candidate.page.close({ runBeforeUnload: true });
    await until(() => dialogs.length > 0);
    expect(dialogs[0]).toBe('beforeunload');
    expect(candidate.page.isClosed()).toBe(false);
    // The slow log has done its part (the page had edits out when asked to close).
    slow.stop();
    // Whenever the page says nothing is unsaved, the node has stored all of it.
    for (;;) {
      if ((await candidate.pending()) === 0) {
        const stored = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
        expect(stored.body.files['main.py']).toBe(await candidate.text());
        if (stored.body.files['main.py'] === line) break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // With nothing left to send, the tab closes without asking.
    await candidate.page.close({ runBeforeUnload: true });
    await until(() => candidate.page.isClosed());
    expect(dialogs).toHaveLength(1);
  }, 60_000);
});
