/** The replay engine on hand-made logs: attribution, cursors, markers, checkpoints, time, idle skipping. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Actor, LoggedEvent } from '../shared/protocol.js';
import { createIdleScale, decodeBase64, encodeBase64, ReplayPlayer, ReplayTimeline } from '../shared/replay/index.js';
import { seededRandom } from './helpers.js';

const ada: Actor = { sub: 'ada', name: 'Ada', role: 'interviewer' };
const cat: Actor = { sub: 'cat', name: 'Cat', role: 'candidate' };

/** A tiny log writer: each transaction on a client doc becomes one `doc` event. */
function logWriter(start = Date.parse('2026-11-28T10:00:00.000Z')) {
  const events: LoggedEvent[] = [];
  let now = start;
  const push = (type: LoggedEvent['type'], actor: Actor, data: Record<string, unknown>, dt = 1000) => {
    now += dt;
    events.push({ seq: events.length + 1, at: new Date(now).toISOString(), type, actor, data });
  };
  const server = new Y.Doc();
  const clients = new Map<string, Y.Doc>();
  const docOf = (a: Actor) => {
    let d = clients.get(a.sub);
    if (!d) {
      d = new Y.Doc();
      Y.applyUpdate(d, Y.encodeStateAsUpdate(server));
      clients.set(a.sub, d);
    }
    return d;
  };
  return {
    events,
    push,
    /** The author's page hears of every logged edit so far (edit does this first unless told not to). */
    catchUp(actor: Actor) {
      const d = docOf(actor);
      Y.applyUpdate(d, Y.encodeStateAsUpdate(server, Y.encodeStateVector(d)));
    },
    /** `fresh`: the author has every logged edit first; false, as a page that has not heard of the newest yet. */
    edit(actor: Actor, fn: (files: Y.Map<Y.Text>) => void, dt = 1000, fresh = true) {
      const d = docOf(actor);
      if (fresh) Y.applyUpdate(d, Y.encodeStateAsUpdate(server, Y.encodeStateVector(d)));
      const sv = Y.encodeStateVector(d);
      d.transact(() => fn(d.getMap<Y.Text>('files')));
      const update = Y.encodeStateAsUpdate(d, sv);
      Y.applyUpdate(server, update);
      push('doc', actor, { doc: 'main', update: encodeBase64(update) }, dt);
    },
    /** The server's seed, as createInterview writes it: one file, holding the starter code if any. */
    seed(actor: Actor, starterCode = '') {
      const d = new Y.Doc();
      d.getMap('files').set('main.py', new Y.Text());
      if (starterCode) d.getMap<Y.Text>('files').get('main.py')!.insert(0, starterCode);
      const update = Y.encodeStateAsUpdate(d);
      Y.applyUpdate(server, update);
      push('doc', actor, { doc: 'main', language: 'python', update: encodeBase64(update) }, 0);
    },
    text: (path: string) => server.getMap<Y.Text>('files').get(path)?.toString(),
    /** The author's page, for what it does itself (an undo manager's transactions). */
    page: (actor: Actor) => docOf(actor),
    /** Logs what `fn` does to the author's page, in whatever transactions it makes. */
    act(actor: Actor, fn: () => void, dt = 1000) {
      const d = docOf(actor);
      const sv = Y.encodeStateVector(d);
      fn();
      const update = Y.encodeStateAsUpdate(d, sv);
      Y.applyUpdate(server, update);
      push('doc', actor, { doc: 'main', update: encodeBase64(update) }, dt);
    },
  };
}

describe('replay engine', () => {
  it('base64 matches Node', () => {
    const rnd = seededRandom(1);
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n * 7 }, () => rnd(256));
      const b64 = Buffer.from(bytes).toString('base64');
      expect(encodeBase64(bytes)).toBe(b64);
      expect([...decodeBase64(b64)]).toEqual([...bytes]);
    }
  });

  it('attributes every character to its author and keeps each author last edit position', () => {
    const log = logWriter();
    log.seed(ada);
    log.push('join', ada, {});
    log.push('join', cat, {});
    log.edit(cat, (f) => f.get('main.py')!.insert(0, 'def f():\n    return 1\n'));
    log.edit(ada, (f) => f.get('main.py')!.insert(0, '# by Ada\n'));
    log.edit(cat, (f) => f.get('main.py')!.delete(9 + 4, 1)); // "def f" -> "def ()"
    log.push('chat', cat, { channel: 'room', text: 'done?' });
    log.push('chat', ada, { channel: 'panel', text: 'looks fine' });
    log.push('signal', cat, { kind: 'paste', size: 20, path: 'main.py' });
    log.push('language', ada, { language: 'typescript' });
    log.push('leave', cat, {});

    const timeline = new ReplayTimeline({ checkpointEvery: 2 });
    timeline.append(log.events.slice(0, 4));
    timeline.append(log.events.slice(2)); // overlapping page: skipped, not doubled
    expect(timeline.length).toBe(log.events.length);
    const player = new ReplayPlayer(timeline);

    const end = player.seek(timeline.length);
    expect(end.files).toEqual({ 'main.py': log.text('main.py') });
    expect(end.files['main.py']).toBe('# by Ada\ndef ():\n    return 1\n');
    expect(player.attribution('main', 'main.py')).toEqual([
      { from: 0, to: 9, author: 'ada' },
      { from: 9, to: end.files['main.py']!.length, author: 'cat' },
    ]);
    // Cat last deleted at 13; Ada last typed at the end of her line.
    const cursors = Object.fromEntries(player.cursors().map((c) => [c.author.sub, c]));
    expect(cursors.cat).toMatchObject({ doc: 'main', path: 'main.py', index: 13 });
    expect(cursors.ada).toMatchObject({ doc: 'main', path: 'main.py', index: 9 });
    expect(end.chat.map((m) => [m.channel, m.text])).toEqual([
      ['room', 'done?'],
      ['panel', 'looks fine'],
    ]);
    expect(end.signals).toEqual([expect.objectContaining({ kind: 'paste', size: 20, path: 'main.py', from: cat })]);
    expect(end.language).toBe('typescript');
    expect(end.participants).toEqual([
      { ...ada, online: true },
      { ...cat, online: false },
    ]);

    // Back in time: before Ada's line, Cat's cursor sat after its own text.
    const early = player.seek(4);
    expect(early.language).toBe('python');
    expect(early.chat).toEqual([]);
    expect(player.cursors()).toEqual([expect.objectContaining({ author: cat, index: 'def f():\n    return 1\n'.length })]);
    expect(player.seek(0)).toMatchObject({ index: 0, seq: 0, files: {}, participants: [] });
  });

  it('presence counts connections: a second leave of one connection (a lost one logged by another node) does not take another tab offline', () => {
    const log = logWriter();
    log.seed(ada);
    log.push('join', cat, { conn: 'tab1' });
    log.push('join', cat, { conn: 'tab2' });
    // tab1's node died; another node logged it as lost, and then (late) tab1's own leave came too.
    log.push('leave', cat, { conn: 'tab1', lost: true });
    // A checkpoint falls here (an edit, with one every edit): what follows is seeked from it.
    log.edit(ada, (f) => f.get('main.py')!.insert(0, '# hm\n'));
    log.push('leave', cat, { conn: 'tab1' });
    log.push('chat', ada, { channel: 'room', text: 'still there?' });
    log.push('leave', cat, { conn: 'tab2' });
    for (const checkpointEvery of [Infinity, 1]) {
      const timeline = new ReplayTimeline({ checkpointEvery });
      timeline.append(log.events);
      if (checkpointEvery === 1) expect(timeline.checkpoints.map((c) => c.index)).toContain(5);
      // A fresh player each time: one seeking forward goes on from where it stands, not from the checkpoint.
      const online = (index: number) => new ReplayPlayer(timeline).seek(index).participants.find((p) => p.sub === 'cat')?.online;
      expect([3, 4, 5, 6, 7].map(online)).toEqual([true, true, true, true, true]);
      expect(online(8)).toBe(false);
    }
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    expect(timeline.markers.filter((m) => m.kind === 'leave').map((m) => m.label)).toEqual([
      "Cat left (their connection's node went down)",
      'Cat left',
      'Cat left',
    ]);
  });

  it('a lost leave says how long before it was logged its node was last heard from', () => {
    const log = logWriter();
    log.seed(ada);
    const lastSeen = (leaveAfterMs: number, beforeMs: number) => new Date(Date.parse(log.events.at(-1)!.at) + leaveAfterMs - beforeMs).toISOString();
    log.push('join', cat, { conn: 'tab1' });
    log.push('leave', cat, { conn: 'tab1', lost: true, lastSeen: lastSeen(1000, 58_400) }, 1000);
    log.push('join', cat, { conn: 'tab2' });
    log.push('leave', cat, { conn: 'tab2', lost: true, lastSeen: lastSeen(1000, 10 * 60_000) }, 1000);
    log.push('join', cat, { conn: 'tab3' });
    log.push('leave', cat, { conn: 'tab3', lost: true, lastSeen: lastSeen(1000, 119_600) }, 1000);
    log.push('join', cat, { conn: 'tab4' });
    log.push('leave', cat, { conn: 'tab4', lost: true, lastSeen: lastSeen(1000, 26 * 3600_000) }, 1000);
    // Clocks too far apart to tell (the heartbeat after the leave), an unreadable time, none at all (older logs).
    log.push('join', cat, { conn: 'tab5' });
    log.push('leave', cat, { conn: 'tab5', lost: true, lastSeen: lastSeen(1000, -800) }, 1000);
    log.push('join', cat, { conn: 'tab6' });
    log.push('leave', cat, { conn: 'tab6', lost: true, lastSeen: 'not a time' }, 1000);
    log.push('join', cat, { conn: 'tab7' });
    log.push('leave', cat, { conn: 'tab7', lost: true }, 1000);
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    const node = "Cat left (their connection's node went down";
    expect(timeline.markers.filter((m) => m.kind === 'leave').map((m) => m.label)).toEqual([
      `${node}; last heard from 58 s before)`,
      `${node}; last heard from 10 min before)`,
      `${node}; last heard from 2 min before)`,
      `${node}; last heard from 26 h before)`,
      `${node})`,
      `${node})`,
      `${node})`,
    ]);
  });

  it('starter code in the seed is there from the first event, credited to the creator, with no caret until someone edits', () => {
    const log = logWriter();
    log.seed(ada, 'def solve(xs):\n    pass\n');
    log.push('join', cat, {});
    log.edit(cat, (f) => f.get('main.py')!.insert('def solve(xs):\n    '.length, 'return sorted(xs)\n    '));
    const timeline = new ReplayTimeline({ checkpointEvery: 2 });
    timeline.append(log.events);
    const player = new ReplayPlayer(timeline);
    expect(player.seek(1).files).toEqual({ 'main.py': 'def solve(xs):\n    pass\n' });
    expect(player.attribution('main', 'main.py')).toEqual([{ from: 0, to: 24, author: 'ada' }]);
    // The seed is not an edit anyone made in the interview: nobody's caret is shown for it.
    expect(player.cursors()).toEqual([]);
    const end = player.seek(timeline.length);
    expect(end.files['main.py']).toBe('def solve(xs):\n    return sorted(xs)\n    pass\n');
    expect(player.cursors()).toEqual([expect.objectContaining({ author: cat, index: 'def solve(xs):\n    return sorted(xs)\n    '.length })]);
    // Nor is it a burst of text at once, however long.
    expect(timeline.markers.filter((m) => m.kind === 'burst')).toEqual([]);
  });

  it('a renamed file keeps its authors: the copy a rename makes is credited to whoever wrote each character', () => {
    const log = logWriter();
    log.seed(ada);
    log.edit(ada, (f) => f.get('main.py')!.insert(0, '# scaffold\n'));
    for (const ch of 'def solve():\n    return 42\n') log.edit(cat, (f) => f.get('main.py')!.insert(f.get('main.py')!.length, ch));
    // The browser client's rename: the text copied under the new name, the old key dropped, in one transaction.
    const rename = (from: string, to: string) => (f: Y.Map<Y.Text>) => {
      f.set(to, new Y.Text(f.get(from)!.toString()));
      f.delete(from);
    };
    log.edit(ada, rename('main.py', 'solution.py'));
    log.edit(ada, (f) => f.get('solution.py')!.insert(11, 'import sys\n'));
    log.edit(cat, rename('solution.py', 'answer.py'));
    // A rename copied from a page that had not heard of Cat's latest key yet, and that added a line:
    // what the copy shares with the old file keeps its authors, the rest is the renamer's.
    log.edit(cat, (f) => f.set('other.py', new Y.Text('x = 1\n')));
    log.catchUp(ada);
    log.edit(cat, (f) => f.get('other.py')!.insert(0, '#'));
    log.edit(
      ada,
      (f) => {
        f.set('moved.py', new Y.Text(`${f.get('other.py')!.toString()}y = 2\n`));
        f.delete('other.py');
      },
      1000,
      false,
    );
    const timeline = new ReplayTimeline({ checkpointEvery: 5 });
    timeline.append(log.events);
    const player = new ReplayPlayer(timeline);
    const solve = 'def solve():\n    return 42\n'.length;
    const merged = [
      { from: 0, to: 22, author: 'ada' },
      { from: 22, to: 22 + solve, author: 'cat' },
    ];
    const end = player.seek(timeline.length);
    expect(Object.keys(end.files)).toEqual(['answer.py', 'moved.py']);
    expect(player.attribution('main', 'answer.py')).toEqual(merged);
    expect(end.files['moved.py']).toBe('x = 1\ny = 2\n');
    expect(player.attribution('main', 'moved.py')).toEqual([
      { from: 0, to: 6, author: 'cat' },
      { from: 6, to: 12, author: 'ada' },
    ]);
    // The same through a checkpoint and from the start, and right after the first rename.
    // The seed, Ada's scaffold, Cat's keys one event each, then the rename.
    const renamed = 2 + solve + 1;
    expect(Object.keys(player.seek(renamed).files)).toEqual(['solution.py']);
    expect(player.attribution('main', 'solution.py')).toEqual([
      { from: 0, to: 11, author: 'ada' },
      { from: 11, to: 11 + solve, author: 'cat' },
    ]);
    const straight = new ReplayTimeline({ checkpointEvery: Infinity });
    straight.append(log.events);
    const straightPlayer = new ReplayPlayer(straight);
    straightPlayer.seek(straight.length);
    expect(straightPlayer.attribution('main', 'answer.py')).toEqual(merged);
  });

  it("a rename moves everyone's last-edit caret to the same character of the copy, and puts none at the copy's end", () => {
    const log = logWriter();
    log.seed(ada);
    const solve = 'def solve():\n    return 42\n';
    for (const ch of solve) log.edit(cat, (f) => f.get('main.py')!.insert(f.get('main.py')!.length, ch));
    log.edit(ada, (f) => f.get('main.py')!.insert(0, '# scaffold\n'));
    // Cat's last key a Backspace: a caret on a character the copy will not have.
    log.edit(cat, (f) => f.get('main.py')!.delete(f.get('main.py')!.length - 1, 1));
    // The language changed: Ada's page renames main.py to main.js (the browser client's rename).
    log.edit(ada, (f) => {
      f.set('main.js', new Y.Text(f.get('main.py')!.toString()));
      f.delete('main.py');
    });
    for (const every of [Infinity, 3]) {
      const timeline = new ReplayTimeline({ checkpointEvery: every });
      timeline.append(log.events);
      const player = new ReplayPlayer(timeline);
      expect(Object.keys(player.seek(timeline.length).files)).toEqual(['main.js']);
      const carets = player.cursors().map((c) => [c.author.sub, c.path, c.index]);
      // Ada's after her scaffold line, Cat's where Cat's Backspace took the last newline: where each last edited.
      expect(carets.sort()).toEqual([
        ['ada', 'main.js', '# scaffold\n'.length],
        ['cat', 'main.js', '# scaffold\n'.length + solve.length - 1],
      ]);
    }
  });

  it('marks when the interviewer took Run away from the candidate and gave it back', () => {
    const log = logWriter();
    log.seed(ada);
    log.push('run_settings', ada, { candidateMayRun: false });
    log.push('run_settings', ada, { candidateMayRun: true });
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    expect(timeline.markers.filter((m) => m.kind === 'settings').map((m) => [m.label, m.data])).toEqual([
      ['Ada: the candidate may not run code', { candidateMayRun: false }],
      ['Ada: the candidate may run code', { candidateMayRun: true }],
    ]);
  });

  it('marks a logged edit that inserted 100 characters or more at once, whatever the page reported; not a rename, not the seed', () => {
    const log = logWriter();
    log.seed(ada);
    log.edit(cat, (f) => f.get('main.py')!.insert(0, 'x'.repeat(99)));
    // Typed offline, sent together on reconnecting: one event, no paste signal.
    log.edit(cat, (f) => {
      for (let i = 0; i < 120; i++) f.get('main.py')!.insert(f.get('main.py')!.length, 'y');
      f.set('util.py', new Y.Text('z'.repeat(30)));
    });
    log.edit(ada, (f) => {
      f.set('solution.py', new Y.Text(f.get('main.py')!.toString()));
      f.delete('main.py');
    });
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    const bursts = timeline.markers.filter((m) => m.kind === 'burst');
    expect(bursts).toEqual([
      expect.objectContaining({ index: 2, actor: cat, label: 'Cat: 150 characters at once into main.py', data: { size: 150, path: 'main.py' } }),
    ]);
  });

  it('an undo (or redo) that puts deleted text back where it was is no burst; new text where text was deleted is', () => {
    const log = logWriter();
    log.seed(ada);
    const page = log.page(cat);
    const text = page.getMap<Y.Text>('files').get('main.py')!;
    const undo = new Y.UndoManager(text, { captureTimeout: 0 });
    const code = 'def two_sum(nums, target):\n    seen = {}\n    for i, n in enumerate(nums):\n        if target - n in seen:\n            return [seen[target - n], i]\n        seen[n] = i\n';
    // Typed three characters at a time, each its own event: no burst.
    for (let i = 0; i < code.length; i += 3) log.act(cat, () => page.transact(() => text.insert(i, code.slice(i, i + 3))));
    log.act(cat, () => page.transact(() => text.delete(0, text.length)));
    log.act(cat, () => undo.undo()); // the deletion undone: all of it back at once
    expect(log.text('main.py')).toBe(code);
    log.act(cat, () => undo.redo()); // deleted again
    log.act(cat, () => undo.undo()); // and back again: the copies' own copies
    expect(log.text('main.py')).toBe(code);
    const undoneAt = log.events.length - 1;
    // Other text of the same length where that text was: a paste, however it is dressed.
    log.act(cat, () => page.transact(() => text.delete(0, text.length)));
    log.act(cat, () => page.transact(() => text.insert(0, 'x'.repeat(code.length))));
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    const bursts = timeline.markers.filter((m) => m.kind === 'burst');
    expect(bursts).toEqual([expect.objectContaining({ index: undoneAt + 2, label: `Cat: ${code.length} characters at once into main.py` })]);
  });

  it('a cursor follows later edits by others, and marks file adds, renames and deletes', () => {
    const log = logWriter();
    log.seed(ada);
    log.edit(cat, (f) => f.get('main.py')!.insert(0, 'abc'));
    log.edit(ada, (f) => f.get('main.py')!.insert(0, '12345'));
    log.edit(cat, (f) => f.set('util.py', new Y.Text('x = 1\n')));
    log.edit(cat, (f) => {
      const text = f.get('util.py')!.toString();
      f.delete('util.py');
      f.set('helpers.py', new Y.Text(text));
    });
    log.edit(ada, (f) => f.delete('helpers.py'));
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    const player = new ReplayPlayer(timeline);
    player.seek(3);
    expect(player.cursors().find((c) => c.author.sub === 'cat')?.index).toBe(8);
    expect(timeline.markers.filter((m) => m.kind === 'file').map((m) => m.label)).toEqual([
      'Ada added main.py',
      'Cat added util.py',
      'Cat renamed util.py to helpers.py',
      'Ada deleted helpers.py',
    ]);
    player.seek(4);
    expect(player.cursors().find((c) => c.author.sub === 'cat')).toMatchObject({ path: 'util.py', index: 6 });
    // A deleted file takes its cursors with it.
    player.seek(timeline.length);
    expect(player.cursors().map((c) => c.path)).toEqual(['main.py']);
  });

  it('finds the state at an instant and refuses a gap in the log', () => {
    const log = logWriter();
    log.seed(ada);
    log.edit(cat, (f) => f.get('main.py')!.insert(0, 'a'), 1000);
    log.edit(cat, (f) => f.get('main.py')!.insert(1, 'b'), 60_000);
    log.push('end', ada, {}, 1000);
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    const player = new ReplayPlayer(timeline);
    expect(timeline.duration).toBe(62_000);
    expect(player.seekTime(999).files['main.py']).toBe('');
    expect(player.seekTime(1000).files['main.py']).toBe('a');
    expect(player.seekTime(60_999).files['main.py']).toBe('a');
    expect(player.seekTime(61_000).files['main.py']).toBe('ab');
    expect(player.seekTime(10 ** 9)).toMatchObject({ ended: true, index: 4 });
    expect(timeline.timeOfIndex(3)).toBe(61_000);
    expect(() => new ReplayTimeline().append([log.events[0]!, log.events[2]!])).toThrow(/missing events/);

    const idle = createIdleScale(timeline.times.map((t) => t - timeline.startTime), 3000);
    expect(idle.duration).toBe(1000 + 3000 + 1000);
    expect(idle.toScaled(61_000)).toBe(4000);
    expect(idle.toReal(4000)).toBe(61_000);
    expect(idle.toReal(idle.toScaled(30_000))).toBeCloseTo(30_000);
  });

  it('an event stamped a little earlier than the one before it (two nodes) is placed at that one\'s time: the timeline never runs backwards', () => {
    const log = logWriter();
    log.seed(ada);
    log.edit(cat, (f) => f.get('main.py')!.insert(0, 'a'), 1000);
    log.push('chat', ada, { channel: 'room', text: 'hi' }, 10);
    // Committed after the chat, stamped 6 ms before it on another node's clock.
    log.edit(cat, (f) => f.get('main.py')!.insert(1, 'b'), -6);
    log.push('end', ada, {}, 1000);
    const timeline = new ReplayTimeline();
    timeline.append(log.events);
    expect(timeline.times.every((t, i) => i === 0 || t >= timeline.times[i - 1]!)).toBe(true);
    expect(timeline.timeOfIndex(4)).toBe(timeline.timeOfIndex(3));
    const player = new ReplayPlayer(timeline);
    // At the chat's instant, the chat and the edit committed after it are both there; before it, neither.
    expect(player.seekTime(1010)).toMatchObject({ index: 4, files: { 'main.py': 'ab' } });
    expect(player.seekTime(1009)).toMatchObject({ index: 2, files: { 'main.py': 'a' } });
    expect(player.seekTime(10 ** 9).index).toBe(5);
    expect(timeline.markers.map((m) => m.time)).toEqual([...timeline.markers.map((m) => m.time)].sort((x, y) => x - y));
  });

  it('seeking through checkpoints equals replaying from the start, at every event', () => {
    const log = logWriter();
    log.seed(ada);
    const rnd = seededRandom(99);
    for (let i = 0; i < 400; i++) {
      const who = rnd(2) ? ada : cat;
      log.edit(who, (f) => {
        const t = f.get('main.py')!;
        if (t.length > 3 && rnd(3) === 0) t.delete(rnd(t.length - 2), 2);
        else t.insert(rnd(t.length + 1), who === ada ? 'A' : 'c');
      }, rnd(5000));
    }
    const none = new ReplayTimeline({ checkpointEvery: Infinity });
    const some = new ReplayTimeline({ checkpointEvery: 16 });
    none.append(log.events);
    some.append(log.events);
    expect(none.checkpoints).toHaveLength(0);
    expect(some.checkpoints.length).toBe(Math.floor(401 / 16));
    const a = new ReplayPlayer(none);
    const b = new ReplayPlayer(some);
    for (let k = 0; k < 300; k++) {
      const i = rnd(log.events.length + 1);
      expect(b.seek(i)).toEqual(a.seek(i));
      expect(b.attribution('main', 'main.py')).toEqual(a.attribution('main', 'main.py'));
      expect(b.cursors()).toEqual(a.cursors());
    }
  });
});
