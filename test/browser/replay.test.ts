/**
 * The replay page in a real Chromium (issue 5, "What it must show" 2): a
 * session recorded through real room pages (typing by two people, a paste,
 * focus loss and a hidden tab, chat in both channels, a run, a language
 * change, a new file), then replayed by a reviewer. The page's editor must
 * show, at every instant it is moved to, what the replay engine rebuilds from
 * the log for that instant, and at the instants the test marked while
 * recording, exactly what the candidate's own page showed.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { defaultRunnerConfig } from '../../server/runner/config.js';
import { createIdleScale, loadTimeline, ReplayPlayer, ReplayTimeline, type Marker } from '../../shared/replay/index.js';
import type { LoggedEvent } from '../../shared/protocol.js';
import { api, connectClient, createInterview, mainFile, startNode, waitFor } from '../helpers.js';
import { hasBwrap, TEST_LIMITS } from '../runner-fixtures.js';
import { spawnNode } from '../fixtures/processes.js';
import { PG_URL, REDIS_URL, uniquePrefix, uniqueSchema } from '../fixtures/services.js';
import { NODE_OPTIONS, focusEditor, hasChromium, openRoom, paste, screenshot, useBrowser, type RoomPage } from './browser.js';

const WAIT = 20_000;
const until = <T>(check: () => T | Promise<T>) => waitFor(check, WAIT, 50);

const NOTES = 'Asks before assuming; pasted the print line.';
const PASTED = '\n# adapted from the standard library docs: ' + 'a long comment that came from the clipboard, '.repeat(3) + '\nprint("answer", y)';

interface ReplayDebug {
  t: number;
  index: number;
  loaded: boolean;
  playing: boolean;
  path: string | undefined;
  text: string;
  files: string[];
}

/** The candidate's sub, as the log names them. */
const candidateSub = (timeline: ReplayTimeline) => [...timeline.actors.values()].find((a) => a.role === 'candidate')!.sub;

/** What the replay page shows right now (through its read-only debug window). */
const shown = (page: Page): Promise<ReplayDebug> =>
  page.evaluate(() => {
    const d = (globalThis as any).duetReplay;
    return { t: d.t(), index: d.index(), loaded: d.loaded(), playing: d.playing(), path: d.path(), text: d.text(), files: d.files() };
  });

describe.skipIf(!hasChromium)('replay page', () => {
  const browser = useBrowser();

  it('replays a recorded session: scrubbing, ?t= instants, playback at 8×, chat and integrity markers where they happened', async () => {
    const node = await startNode(hasBwrap ? { runner: defaultRunnerConfig(TEST_LIMITS) } : {}, NODE_OPTIONS);
    if (hasBwrap) await node.server.ctx.runner.whenReady();
    const iv = await createInterview(node, 'Replay: warm-up', 'python');
    const id = iv.interview.id;
    const interviewer = await openRoom(browser, node.url, id, iv.token);
    const candidate = await openRoom(browser, node.url, id, await iv.invite('candidate', 'Cy Candidate'));
    // A page behind another gets few animation frames, and Playwright's clicks wait for two: bring it forward first.
    const front = async (p: RoomPage) => {
      await p.page.bringToFront();
      return p;
    };
    const events = async (): Promise<LoggedEvent[]> => (await api(node.url, `/api/interviews/${id}/events?after=0&limit=1000`, { token: iv.token })).body.events;

    // Instants marked while recording: the candidate's text once everything typed so far is durable.
    const marks: Array<{ at: number; files: Record<string, string> }> = [];
    const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    const settle = async () => {
      await until(async () => (await candidate.pending()) === 0 && (await interviewer.pending()) === 0 && same(await candidate.files(), await interviewer.files()));
      marks.push({ at: Date.now(), files: await candidate.files() });
    };

    // 1-2. The candidate types, in two bursts.
    await focusEditor(candidate);
    await candidate.page.keyboard.type('x = 1', { delay: 10 });
    await settle();
    await candidate.page.keyboard.press('Enter');
    await candidate.page.keyboard.type('y = x + 41', { delay: 10 });
    await settle();
    // 3. The interviewer writes a line at the top: two authors, two colours.
    await focusEditor(await front(interviewer));
    await interviewer.page.keyboard.press('Control+Home');
    await interviewer.page.keyboard.type('# check the edge cases', { delay: 5 });
    await interviewer.page.keyboard.press('Enter');
    await settle();
    // 4. A large paste (an integrity signal).
    await focusEditor(await front(candidate));
    await paste(candidate, PASTED);
    await settle();
    // 5. Focus leaves the editor for the chat (blur), the tab is hidden and shown, chat in both channels.
    await candidate.page.getByTestId('chat-input').click();
    await candidate.page.evaluate(() => {
      const g = globalThis as any;
      for (const state of ['hidden', 'visible']) {
        Object.defineProperty(g.document, 'visibilityState', { value: state, configurable: true });
        g.document.dispatchEvent(new g.Event('visibilitychange'));
      }
    });
    await candidate.page.getByTestId('chat-input').fill('Can I assume the input fits in memory?');
    await candidate.page.getByTestId('chat-input').press('Enter');
    await (await front(interviewer)).page.locator('.chat-tab[data-channel="panel"]').click();
    await interviewer.page.getByTestId('chat-input').fill('Pasted a block, worth asking about.');
    await interviewer.page.getByTestId('chat-input').press('Enter');
    await until(async () => {
      const log = await events();
      const kinds = new Set(log.filter((e) => e.type === 'signal').map((e) => e.data.kind));
      return log.filter((e) => e.type === 'chat').length === 2 && ['paste', 'blur', 'hidden', 'visible'].every((k) => kinds.has(k));
    });
    // The interviewers' notes (never the candidate's to see; the panel's in the replay).
    await interviewer.page.getByRole('tab', { name: 'Notes' }).click();
    await interviewer.page.locator('.notes-host .view-lines').click();
    await interviewer.page.keyboard.insertText(NOTES);
    await until(async () => (await interviewer.pending()) === 0);
    await interviewer.page.getByRole('tab', { name: /^Chat/ }).click();
    // 6. A run, where the sandbox exists.
    if (hasBwrap) {
      await interviewer.page.getByTestId('run').click();
      await until(async () => /exited with code 0/.test(await interviewer.page.getByTestId('run-status').innerText()));
      await until(async () => (await events()).some((e) => e.type === 'run'));
      // 6b. The interviewer takes Run away from the candidate.
      await interviewer.page.getByLabel('Candidate may run').uncheck();
      await until(async () => (await events()).some((e) => e.type === 'run_settings'));
    }
    // 7. The language, then 8. a new file with a line in it.
    await interviewer.page.getByTestId('language').selectOption('javascript');
    await until(async () => (await candidate.page.getByTestId('language').inputValue()) === 'javascript');
    await interviewer.page.getByRole('button', { name: 'New file' }).click();
    await interviewer.page.getByLabel('New file name').fill('helper.py');
    await interviewer.page.getByLabel('New file name').press('Enter');
    await interviewer.page.keyboard.type('K = 2', { delay: 10 });
    await settle();
    // 9. The end.
    interviewer.page.once('dialog', (d) => void d.accept());
    await interviewer.page.getByTestId('end-interview').click();
    await candidate.page.getByTestId('ended-banner').waitFor({ state: 'visible', timeout: WAIT });
    for (const p of [interviewer, candidate]) expect(p.errors).toEqual([]);
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));
    // An ended interview logs nothing more (no leaves): the log is complete.
    await until(async () => (await events()).at(-1)?.type === 'end');

    // The engine's view of the same log, to compare the page with.
    const reviewer = await iv.invite('reviewer', 'Rita Reviewer');
    const timeline = new ReplayTimeline();
    await loadTimeline(timeline, { baseUrl: node.url, interviewId: id, token: reviewer });
    const engine = new ReplayPlayer(timeline);
    const expectedAt = (t: number) => engine.seekTime(t).files;
    const since = (epoch: number) => epoch - timeline.startTime;
    expect(expectedAt(since(marks[0]!.at))).toEqual(marks[0]!.files); // the marks mean what the test thinks

    // The reviewer's link.
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(String(e)));
    const open = async (search: string) => {
      await page.goto('about:blank');
      await page.goto(`${node.url}/replay/${id}${search}`);
      await until(async () => (await page.evaluate(() => !!(globalThis as any).duetReplay?.loaded())) && (await page.locator('.replay-editor .view-lines').count()) > 0);
    };
    await page.goto(`${node.url}/replay/${id}#token=${reviewer}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    // Both stylesheets applied: Monaco's (a build once dropped it) and the replay's own.
    await until(() =>
      page.evaluate(() => {
        const g = globalThis as any;
        const guard = g.document.querySelector('.replay-editor .monaco-editor .overflow-guard');
        const bar = g.document.querySelector('.replay-timeline');
        return !!guard && g.getComputedStyle(guard).overflow === 'hidden' && !!bar && g.getComputedStyle(bar).display === 'grid';
      }),
    );
    expect(page.url()).not.toContain('token=');
    expect(await page.locator('h1').first().innerText()).toBe('Replay: warm-up');

    /** The page shows the engine's files at its own instant: the tabs, and the text of the file on screen. */
    const matchesEngine = async () => {
      const s = await shown(page);
      const files = expectedAt(s.t);
      return JSON.stringify(s.files) === JSON.stringify(Object.keys(files)) && s.path !== undefined && s.text === files[s.path] ? s : false;
    };

    // Scrubbing: a click on the track moves the instant, the URL follows, the editor shows that instant.
    const track = page.getByTestId('replay-track');
    const box = (await track.boundingBox())!;
    let previous = -1;
    for (const f of [0.15, 0.4, 0.62, 0.85, 0.99]) {
      await page.mouse.click(box.x + f * box.width, box.y + box.height / 2);
      const s = (await until(async () => {
        const now = await shown(page);
        return now.t !== previous && new URL(page.url()).searchParams.get('t') === String(Math.round(now.t)) ? matchesEngine() : false;
      })) as ReplayDebug;
      previous = s.t;
      const fraction = await page.evaluate((t) => (globalThis as any).duetReplay.fraction(t), s.t);
      expect(Math.abs(fraction - f)).toBeLessThan(0.01);
    }
    // The files that exist at an instant are the tabs: helper.py only once it was added.
    await page.mouse.click(box.x + box.width - 1, box.y + box.height / 2);
    // main.py became main.js with the language (the interviewer's page renamed it).
    await until(async () => (await page.locator('.replay-editor .file-tab-name').allInnerTexts()).join() === 'helper.py,main.js');

    // ?t= opens at that instant: each marked instant shows exactly what the candidate's page had then.
    for (const mark of [marks[0]!, marks[2]!, marks[3]!]) {
      const t = since(mark.at);
      await open(`?t=${t}`);
      const s = (await until(matchesEngine)) as ReplayDebug;
      expect(s.t).toBe(t);
      expect(s.text).toBe(mark.files['main.py']);
      // What is on screen too (Monaco draws spaces as no-break spaces), once
      // Monaco has drawn it: it renders in an animation frame after the model changes.
      const shown = mark === marks[0] ? 'x = 1' : 'y = x + 41';
      const onScreen = async () => (await page.getByTestId('replay-editor').locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
      await until(async () => (await onScreen()).includes(shown));
      expect(await onScreen()).toContain(shown);
    }
    // Two authors at marks[2]: the interviewer's line and the candidate's lines carry different colours.
    await open(`?t=${since(marks[2]!.at)}`);
    await until(async () => (await page.locator('.replay-editor [class*="duet-by-"]').evaluateAll((els) => new Set(els.map((e) => (globalThis as any).getComputedStyle(e).backgroundColor)).size)) >= 2);
    expect(await page.locator('.replay-editor .duet-label').count()).toBe(2); // both authors' carets

    // Playback at 8× from the first mark: the text grows as the instant advances, then pauses where it is.
    await open(`?t=${since(marks[0]!.at)}`);
    await page.getByTestId('replay-speed').selectOption('8');
    await page.evaluate(() => ((globalThis as any).document.activeElement as any)?.blur());
    await page.keyboard.press('Space');
    await until(async () => (await shown(page)).playing);
    await until(async () => (await shown(page)).text !== marks[0]!.files['main.py']);
    await until(async () => (await shown(page)).t > since(marks[1]!.at));
    await page.keyboard.press('Space');
    await until(async () => !(await shown(page)).playing);
    const paused = (await until(matchesEngine)) as ReplayDebug;
    expect(paused.t).toBeGreaterThan(since(marks[1]!.at));
    expect(new URL(page.url()).searchParams.get('t')).toBe(String(Math.round(paused.t)));

    // Markers: chat and integrity signals where they happened, on the timeline's scale (skip idle is on).
    const scale = createIdleScale(timeline.times.map((x) => x - timeline.startTime), 3000);
    const of = (kind: Marker['kind']) => timeline.markers.filter((m) => m.kind === kind);
    const chats = of('chat');
    const signals = of('signal');
    expect(chats).toHaveLength(2);
    expect(new Set(signals.map((m) => m.data.kind))).toEqual(new Set(['paste', 'blur', 'focus', 'hidden', 'visible']));
    const trackBox = (await track.boundingBox())!;
    expect(of('end')).toHaveLength(1);
    // The paste, as the log shows it too: one edit that put its text in at once.
    const bursts = of('burst');
    expect(bursts).toEqual([expect.objectContaining({ data: { size: PASTED.length, path: 'main.py' } })]);
    if (hasBwrap) expect(of('settings').map((m) => m.label)).toEqual(['Ada: the candidate may not run code']);
    for (const m of [...chats, ...signals, ...bursts, ...of('language'), ...of('file'), ...of('run'), ...of('settings'), ...of('end')]) {
      const marker = page.locator(`.replay-marker[data-seq="${m.seq}"]`);
      const left = await marker.evaluate((el) => parseFloat((el as any).style.left));
      expect(Math.abs(left - (scale.toScaled(m.time) / scale.duration) * 100)).toBeLessThan(0.01);
      const mb = (await marker.boundingBox())!;
      expect(Math.abs(mb.x + mb.width / 2 - (trackBox.x + (left / 100) * trackBox.width))).toBeLessThan(2);
      expect(await marker.getAttribute('data-kind')).toBe(m.kind);
      // The two lanes: integrity signals under the track, everything else above it.
      expect(mb.y > trackBox.y ? 'signals' : 'events').toBe(m.kind === 'signal' || m.kind === 'burst' ? 'signals' : 'events');
    }
    if (hasBwrap) expect(of('run')).toHaveLength(1);
    // The legend filters: Chat off hides the chat markers, on brings them back.
    const chatMarker = page.locator(`.replay-marker[data-seq="${chats[0]!.seq}"]`);
    await page.locator('.replay-legend-item[data-group="chat"]').click();
    await chatMarker.waitFor({ state: 'hidden', timeout: WAIT });
    await page.locator('.replay-legend-item[data-group="chat"]').click();
    await chatMarker.waitFor({ state: 'visible', timeout: WAIT });
    const pasteMarker = page.locator(`.replay-marker[data-seq="${signals.find((m) => m.data.kind === 'paste')!.seq}"]`);
    expect(await pasteMarker.getAttribute('aria-label')).toMatch(/^Paste at .*Cy Candidate: pasted \d+ characters/);
    expect(await page.locator(`.replay-marker:not(.legend)[data-kind="burst"]`).getAttribute('aria-label')).toMatch(
      new RegExp(`^At once at .*Cy Candidate: ${PASTED.length} characters at once into main\\.py`),
    );
    // Markers a few pixels apart overlap; focus shows the same tooltip as hovering.
    await pasteMarker.focus();
    await until(async () => /pasted \d+ characters/.test(await page.locator('.replay-tip').innerText()));

    // Chat as it was: not yet at the paste, there once the marker of the message is clicked.
    await open(`?t=${since(marks[3]!.at)}`);
    expect(await page.getByTestId('replay-chat').innerText()).not.toContain('fits in memory');
    // A click on the marker (dispatched: the two chat markers may overlap on a short session).
    await page.locator(`.replay-marker[data-seq="${chats[0]!.seq}"]`).dispatchEvent('click');
    await until(async () => (await page.getByTestId('replay-chat').innerText()).includes('Can I assume the input fits in memory?'));
    expect((await shown(page)).t).toBe(chats[0]!.time);
    await page.locator('.chat-tab[data-channel="panel"]').click();
    await page.locator(`.replay-marker[data-seq="${chats[1]!.seq}"]`).dispatchEvent('click');
    await until(async () => {
      const text = await page.getByTestId('replay-chat').innerText();
      return text.includes('Pasted a block, worth asking about.') && /Cy Candidate pasted \d+ characters into main\.py/.test(text);
    });

    // Notes as they were: none at the paste, the interviewer's at the end.
    await page.getByRole('tab', { name: 'Notes' }).click();
    await open(`?t=${since(marks[3]!.at)}`);
    expect(await page.getByTestId('replay-notes').innerText()).toBe('No notes yet at this instant.');
    await page.keyboard.press('End');
    await until(async () => (await page.getByTestId('replay-notes').innerText()) === NOTES);
    // Who wrote them, tinted in their colour unless "Author colours" is off.
    const noteAuthor = (await events()).find((e) => e.type === 'doc' && e.data.doc === 'notes')!.actor;
    const byAuthor = page.getByTestId('replay-notes').locator('span[data-by]');
    expect(await byAuthor.count()).toBe(1);
    expect(await byAuthor.getAttribute('data-by')).toBe(noteAuthor.sub);
    expect(await byAuthor.getAttribute('title')).toBe(`Written by ${noteAuthor.name}`);
    expect(await byAuthor.evaluate((e) => (e as unknown as { style: { backgroundColor: string } }).style.backgroundColor)).not.toBe('');
    await page.getByTestId('replay-colours').uncheck();
    await until(async () => (await byAuthor.evaluate((e) => (e as unknown as { style: { backgroundColor: string } }).style.backgroundColor)) === '');
    await page.getByTestId('replay-colours').check();
    expect(await page.locator('.replay .status-pill').innerText()).toBe('ended');
    // The run, with what it printed, once it had finished.
    if (hasBwrap) {
      await page.getByRole('tab', { name: /^Runs/ }).click();
      const runs = await page.getByTestId('replay-runs').innerText();
      expect(runs).toContain('answer 42');
      expect(runs).toMatch(/main\.py: exited with code 0/);
      // The code it read, kept with it: main.py as it was when the run started.
      const code = page.getByTestId('run-code');
      const ran = marks[3]!.files['main.py']!;
      expect(await code.locator('summary').innerText()).toBe(`Code that ran (${ran.split('\n').length} lines)`);
      await code.locator('summary').click();
      expect(await code.locator('pre').textContent()).toBe(ran);
    }
    await page.getByRole('tab', { name: /^Chat/ }).click();

    // Keyboard: Home, one event forward, five seconds on. The page in front and
    // nothing focused, so the keys reach the page's own handler.
    await page.bringToFront();
    await page.locator('.replay-timeline').click({ position: { x: 5, y: 5 } });
    await page.evaluate(() => ((globalThis as any).document.activeElement as { blur?: () => void } | null)?.blur?.());
    await page.keyboard.press('Home');
    // t changes at the key, the shown index at the next animation frame: wait for both.
    const first = timeline.indexAtTime(0);
    await until(async () => {
      const s = await shown(page);
      return s.t === 0 && s.index === first;
    });
    await page.keyboard.press('.');
    await until(async () => (await shown(page)).index > first);
    await page.keyboard.press('ArrowRight');
    await until(async () => Math.abs(scale.toScaled((await shown(page)).t) - Math.min(scale.duration, scale.toScaled(timeline.timeOfIndex(first + 1)) + 5000)) < 1);
    await until(matchesEngine);

    // The shareable link: this instant, without the sign-in.
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: node.url });
    await page.getByTestId('replay-copy-link').click();
    await until(async () => (await page.getByTestId('replay-copy-link').innerText()) === 'Link copied');
    const copied = await page.evaluate(() => (globalThis as any).navigator.clipboard.readText() as Promise<string>);
    expect(copied).toBe(`${node.url}/replay/${id}?t=${Math.round((await shown(page)).t)}`);

    // Export: both downloads are offered.
    for (const [button, name] of [['replay-export-json', /\.json$/], ['replay-export-zip', /\.zip$/]] as const) {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.getByTestId(button).click()]);
      expect(download.suggestedFilename()).toMatch(name);
    }

    // The screenshot for the README: the paste and the chat about it, in the panel channel.
    await open(`?t=${chats[1]!.time}`);
    await page.locator('.chat-tab[data-channel="panel"]').click();
    await screenshot({ page } as RoomPage, 'replay.png');
    await page.emulateMedia({ colorScheme: 'dark' });
    await until(async () => (await page.locator('.replay-editor .monaco-editor.vs-dark').count()) > 0);
    await screenshot({ page } as RoomPage, 'replay-dark.png');

    expect(errors).toEqual([]);
    await page.close();
    engine.destroy();
    timeline.destroy();
  }, 90_000);

  it("a file the interviewer renamed still shows the candidate's code in the candidate's colour", async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Renamed', 'python');
    const id = iv.interview.id;
    const interviewer = await openRoom(browser, node.url, id, iv.token);
    const candidate = await openRoom(browser, node.url, id, await iv.invite('candidate', 'Cy'));
    await focusEditor(candidate);
    await candidate.page.keyboard.type('def solve():\nreturn 42', { delay: 10 });
    await until(async () => (await candidate.pending()) === 0 && (await interviewer.text()).includes('return 42'));
    await interviewer.page.bringToFront();
    await interviewer.page.locator('.file-tab-name[data-path="main.py"]').dblclick();
    await interviewer.page.getByLabel('Rename main.py').fill('solution.py');
    await interviewer.page.getByLabel('Rename main.py').press('Enter');
    await until(async () => Object.keys(await candidate.files()).join() === 'solution.py');
    interviewer.page.once('dialog', (d) => void d.accept());
    await interviewer.page.getByTestId('end-interview').click();
    await candidate.page.getByTestId('ended-banner').waitFor({ state: 'visible', timeout: WAIT });
    await Promise.all([interviewer, candidate].map((p) => p.page.close()));

    const page = await browser.context.newPage();
    await page.goto(`${node.url}/replay/${id}#token=${await iv.invite('reviewer', 'Rita')}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await page.keyboard.press('End');
    await until(async () => (await shown(page)).path === 'solution.py' && (await shown(page)).text.includes('return 42'));
    // Every tinted character is one author's, the candidate's: the People list gives each their colour.
    const tints = async () =>
      page.locator('.replay-editor [class*="duet-by-"]').evaluateAll((els) => [...new Set(els.map((e) => [...e.classList].find((c) => c.startsWith('duet-by-'))))]);
    await until(async () => (await tints()).length > 0);
    const [tint] = await tints();
    expect(await tints()).toEqual([tint]);
    // The page's style names each tint's author (the label of the same author's caret).
    const author = await page.evaluate((cls) => {
      const i = cls!.slice('duet-by-'.length);
      for (const el of (globalThis as any).document.querySelectorAll('style')) {
        const m = new RegExp(`\\.duet-head-a${i}\\.duet-label::after\\{content:("[^"]*")`).exec(el.textContent ?? '');
        if (m) return JSON.parse(m[1]!) as string;
      }
      return null;
    }, tint);
    expect(author).toBe('Cy');
    // And the engine agrees: the whole file is the candidate's.
    const timeline = new ReplayTimeline();
    await loadTimeline(timeline, { baseUrl: node.url, interviewId: id, token: await iv.invite('reviewer', 'Rita') });
    const player = new ReplayPlayer(timeline);
    player.seek(timeline.length);
    expect(player.attribution('main', 'solution.py').map((r) => r.author)).toEqual([candidateSub(timeline)]);
    await page.close();
  }, 60_000);

  it("a caret's name moves below its line when the replay is scrolled until there is no room above it", async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Scrolled', 'python');
    const id = iv.interview.id;
    const candidate = await openRoom(browser, node.url, id, await iv.invite('candidate', 'Cy'));
    await focusEditor(candidate);
    await candidate.page.keyboard.press('Control+A');
    await candidate.page.keyboard.press('Delete');
    await paste(candidate, Array.from({ length: 40 }, (_, i) => `# line ${i + 1}`).join('\n'));
    // The candidate's last edit, so their caret in the replay, on line 10.
    await candidate.page.keyboard.press('Control+Home');
    for (let i = 1; i < 10; i++) await candidate.page.keyboard.press('ArrowDown');
    await candidate.page.keyboard.press('End');
    await candidate.page.keyboard.type('!');
    await until(async () => (await candidate.pending()) === 0 && (await candidate.text()).includes('# line 10!'));
    await candidate.page.close();

    const page = await browser.context.newPage();
    await page.goto(`${node.url}/replay/${id}#token=${await iv.invite('reviewer', 'Rita')}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await page.keyboard.press('End');
    await until(async () => (await shown(page)).text.includes('# line 10!'));
    // The caret's top and its name's, from the top of what the editor shows.
    const caret = () =>
      page.evaluate(() => {
        const g = globalThis as any;
        const el = g.document.querySelector('.replay-editor .duet-label');
        if (!el) return null;
        const guard = g.document.querySelector('.replay-editor .overflow-guard').getBoundingClientRect();
        const top = el.getBoundingClientRect().top - guard.top;
        return { top, name: top + parseFloat(g.getComputedStyle(el, '::after').top) };
      });
    await page.getByTestId('replay-editor').locator('.view-lines').click();
    await page.keyboard.press('Control+Home');
    await until(async () => ((await caret())?.top ?? 0) > 40);
    expect((await caret())!.name).toBeLessThan((await caret())!.top); // room above: the name is above
    // Ctrl+Down scrolls a line at a time: past the line where the name still fits above (the
    // editor's top padding), to where the line is partly under the edge.
    for (let i = 0; i < 20 && (await caret())!.top >= 0; i++) {
      const before = (await caret())!.top;
      await page.keyboard.press('Control+ArrowDown');
      await until(async () => (await caret())?.top !== before);
    }
    const scrolled = (await caret())!;
    expect(scrolled.top).toBeLessThan(0);
    expect(scrolled.top).toBeGreaterThan(-19); // still drawn: part of the line shows
    // Placed again on the scroll: below the line, in view, not cut off above it.
    await until(async () => (await caret())!.name > (await caret())!.top);
    expect((await caret())!.name).toBeGreaterThanOrEqual(0);
    await page.close();
  }, 60_000);

  it("a candidate whose node was killed shows offline from the leave a live node logged for them, marked as their node going down", async () => {
    const schema = uniqueSchema();
    const prefix = uniquePrefix();
    // The candidate's node, a real process, killed; the interviewer's node, in this process, logs the leave.
    const victim = await spawnNode({ REDIS_URL, REDIS_KEY_PREFIX: prefix, DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, NODE_DEAD_AFTER_SECONDS: '5' });
    const node = await startNode(
      { redisUrl: REDIS_URL, redisKeyPrefix: prefix, databaseUrl: PG_URL, databaseSchema: schema, nodeDeadAfterMs: 5000 },
      NODE_OPTIONS,
    );
    const iv = await createInterview(node, 'A node dies', 'python');
    const id = iv.interview.id;
    const cy = await connectClient(victim.url, await iv.invite('candidate', 'Cy'));
    mainFile(cy).insert(0, 'print(1)');
    await waitFor(() => cy.provider.pending === 0);
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    cy.provider.destroy();
    process.kill(victim.child.pid!, 'SIGKILL');
    const leaves = async (): Promise<LoggedEvent[]> =>
      (await api(node.url, `/api/interviews/${id}/events?after=0&limit=1000`, { token: iv.token })).body.events.filter((e: LoggedEvent) => e.type === 'leave');
    await waitFor(async () => (await leaves()).length === 1, 25_000, 200);
    expect((await leaves())[0]).toMatchObject({ actor: { name: 'Cy' }, data: { lost: true, lastSeen: expect.any(String) } });
    await ada.socket.timeout(5000).emitWithAck('chat:send', { channel: 'room', text: 'Cy dropped' });

    const reviewer = await iv.invite('reviewer', 'Rita');
    const page = await browser.context.newPage();
    await page.goto(`${node.url}/replay/${id}#token=${reviewer}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await page.bringToFront();
    const cyRow = () => page.getByTestId('participants').locator('li', { hasText: 'Cy' });
    // When its node was last heard from: its last heartbeat, at least a quarter of the threshold and a
    // second (2.25 s) before the leave, the node having seen its process end on this machine.
    const marker = page.locator(`.replay-marker[data-tip*="Cy left (their connection's node went down; last heard from "]`);
    await until(async () => (await marker.count()) === 1);
    expect(await marker.getAttribute('data-tip')).toMatch(/last heard from ([2-9]|\d\d) s before\)/);
    // At the end (the chat after the leave): offline. One event back, before the leave: online.
    await page.keyboard.press('End');
    await until(async () => (await cyRow().getAttribute('class'))?.split(' ').includes('online') === false);
    await page.keyboard.press(',');
    await page.keyboard.press(',');
    await until(async () => (await cyRow().getAttribute('class'))?.split(' ').includes('online') === true);
    await page.close();
  }, 90_000);

  it('steps one event at a time with , and . even through events that share a millisecond', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Same instant', 'python');
    const id = iv.interview.id;
    // Three messages stamped the same millisecond (two nodes commit that close together), then one more.
    const ada = { sub: 'ada', name: 'Ada', role: 'interviewer' as const };
    const at = new Date(Date.now() + 1000).toISOString();
    for (const text of ['one', 'two', 'three']) await node.server.ctx.writer.append(id, { type: 'chat', at, actor: ada, data: { channel: 'room', text } });
    await node.server.ctx.writer.append(id, { type: 'chat', at: new Date(Date.parse(at) + 500).toISOString(), actor: ada, data: { channel: 'room', text: 'four' } });
    const reviewer = await iv.invite('reviewer', 'Rita');
    const timeline = new ReplayTimeline();
    await loadTimeline(timeline, { baseUrl: node.url, interviewId: id, token: reviewer });

    const page = await browser.context.newPage();
    await page.goto(`${node.url}/replay/${id}#token=${reviewer}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await page.bringToFront();
    await page.keyboard.press('Home');
    const first = timeline.indexAtTime(0);
    await until(async () => (await shown(page)).index === first);
    const seen: number[] = [];
    for (let i = first + 1; i <= timeline.length; i++) {
      await page.keyboard.press('.');
      await until(async () => (await shown(page)).index === i);
      seen.push(i);
    }
    expect(seen.length).toBe(timeline.length - first);
    for (let i = timeline.length - 1; i >= first; i--) {
      await page.keyboard.press(',');
      await until(async () => (await shown(page)).index === Math.max(1, i));
    }
    await page.close();
  }, 60_000);

  it("the Panel tab keeps the log's order when a later event was stamped earlier on another node's clock", async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Two clocks', 'python');
    const id = iv.interview.id;
    const ada = { sub: 'ada', name: 'Ada', role: 'interviewer' as const };
    const cy = { sub: 'cy', name: 'Cy', role: 'candidate' as const };
    const at = Date.now() + 1000;
    // The tab switch is committed first; the message after it came from a node whose clock is 300 ms behind.
    await node.server.ctx.writer.append(id, { type: 'signal', at: new Date(at + 300).toISOString(), actor: cy, data: { kind: 'hidden' } });
    await node.server.ctx.writer.append(id, { type: 'chat', at: new Date(at).toISOString(), actor: ada, data: { channel: 'panel', text: 'after the switch' } });
    const page = await browser.context.newPage();
    await page.goto(`${node.url}/replay/${id}#token=${await iv.invite('reviewer', 'Rita')}`);
    await until(() => page.evaluate(() => !!(globalThis as any).duetReplay?.loaded()));
    await page.bringToFront();
    await page.keyboard.press('End');
    await page.locator('.chat-tab[data-channel="panel"]').click();
    const items = page.getByTestId('replay-chat').locator('li');
    await until(async () => (await items.count()) === 2);
    expect(await items.first().innerText()).toContain('Cy switched away from the interview tab.');
    expect(await items.last().innerText()).toContain('after the switch');
    await page.close();
  }, 60_000);

  it('renders from the first page of the log, extends the timeline as the rest loads, and opens a ?t= past the first page once it exists', async () => {
    const node = await startNode({}, NODE_OPTIONS);
    const iv = await createInterview(node, 'Long log', 'python');
    const id = iv.interview.id;
    // Edits from a client in this process: three pages of the log.
    const client = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const text = mainFile(client);
    // Edits refused by the rate limit travel merged in a resync, so: batches until the log is long enough.
    const logHas = async (n: number) => (await api(node.url, `/api/interviews/${id}/events?after=${n}&limit=1`, { token: iv.token })).body.events.length > 0;
    for (let i = 0; !(await logHas(2100)); ) {
      for (const end = i + 200; i < end; i++) text.insert(text.length, i % 40 === 39 ? '\n' : String.fromCharCode(97 + (i % 26)));
      await waitFor(() => client.provider.pending === 0, WAIT, 5);
    }
    const final = text.toString();
    client.provider.destroy();
    client.socket.disconnect();
    // Ended, the log takes nothing more: what the engine loads now is what the page will.
    expect((await api(node.url, `/api/interviews/${id}/end`, { method: 'POST', token: iv.token })).status).toBe(200);
    const reviewer = await iv.invite('reviewer', 'Rita');
    const timeline = new ReplayTimeline();
    await loadTimeline(timeline, { baseUrl: node.url, interviewId: id, token: reviewer });
    const last = timeline.duration;

    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('pageerror', (e) => void errors.push(String(e)));
    // Every page after the first waits for the test's go-ahead.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/events\?after=[1-9]/, async (route) => {
      await gate;
      await route.continue();
    });
    await page.goto(`${node.url}/replay/${id}?t=${last}#token=${reviewer}`);
    // The first page is on screen while the rest is held back: the end of what has loaded, not the asked-for instant yet.
    const partial = (await until(async () => {
      const s = await shown(page);
      return s.index === 1000 && s.text.length > 0 ? s : false;
    })) as ReplayDebug;
    expect(partial.loaded).toBe(false);
    expect(partial.text).toBe(new ReplayPlayer(timeline).seek(1000).files['main.py']);
    expect(await page.getByTestId('replay-loading').innerText()).toContain('1,000 events');
    const partialTotal = await page.locator('.replay-total').innerText();
    release();
    const done = (await until(async () => {
      const s = await shown(page);
      return s.loaded && s.text === final ? s : false;
    })) as ReplayDebug;
    expect(done.t).toBe(last);
    expect(done.index).toBe(timeline.length);
    expect(await page.getByTestId('replay-loading').isHidden()).toBe(true);
    expect(await page.locator('.replay-total').innerText()).not.toBe(partialTotal);
    // A candidate's link cannot open the replay.
    await page.goto('about:blank');
    await page.goto(`${node.url}/replay/${id}#token=${await iv.invite('candidate', 'Cy')}`);
    await until(async () => (await page.locator('h1').innerText()) === 'You cannot open this replay');
    expect(errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await page.close();
    timeline.destroy();
  }, 90_000);
});
