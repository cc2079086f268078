/**
 * A rename copies a file into a new Y.Text; what another page typed into the
 * old one that the renamer had not received is put back by that page
 * (shared/rename-rescue.ts). First with Yjs documents passing updates by hand,
 * so each race is exact; then through a real node, with a page that typed
 * while disconnected.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FromServer } from '../shared/provider.js';
import { keepOwnEditsAcrossRenames, renameFile } from '../shared/rename-rescue.js';
import { FUZZ_TIMEOUT, runs } from './fuzz-kit.js';
import { api, connectClient, createInterview, startNode, waitFor } from './helpers.js';

/** A page's document with the rescue on, and the updates it made itself, not yet delivered. */
function page(clientID: number) {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const files = doc.getMap<Y.Text>('files');
  keepOwnEditsAcrossRenames(files);
  const outbox: Uint8Array[] = [];
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (!(origin instanceof FromServer)) outbox.push(update);
  });
  return {
    doc,
    files,
    outbox,
    text: (path: string) => files.get(path)?.toString(),
    /** Hands over what this page made, as the server would broadcast it. */
    sendTo(...others: Array<{ doc: Y.Doc }>) {
      const updates = outbox.splice(0);
      for (const u of updates) for (const o of others) Y.applyUpdate(o.doc, u, new FromServer(u));
    },
    /** As the browser client renames. */
    rename(from: string, to: string) {
      expect(renameFile(files, from, to)).toBe(true);
    },
  };
}

type Page = ReturnType<typeof page>;

/** Three pages with the same document, which the first wrote. */
function pagesWith(content: string): [Page, Page, Page] {
  const pages: [Page, Page, Page] = [page(1), page(2), page(3)];
  pages[0].files.set('main.py', new Y.Text(content));
  pages[0].sendTo(pages[1], pages[2]);
  return pages;
}

/** Which pages' Yjs clients wrote the characters of a text, in order. */
function authorsOf(text: Y.Text): number[] {
  const out: number[] = [];
  for (let item = text._start; item; item = item.right) if (!item.deleted) for (let i = 0; i < item.length; i++) out.push(item.id.client);
  return out;
}

describe('a rename that missed typing', () => {
  it('puts back what the other page typed at the same moment, as its own typing, and both pages converge', () => {
    const [renamer, typist] = pagesWith('def f():\n    return 1\n');
    typist.files.get('main.py')!.insert(21, '  # one');
    renamer.rename('main.py', 'app.py');
    renamer.sendTo(typist);
    expect(typist.text('main.py')).toBeUndefined();
    expect(typist.text('app.py')).toBe('def f():\n    return 1  # one\n');
    // The typing, then the rescue, reach the renamer.
    typist.sendTo(renamer);
    expect(renamer.text('app.py')).toBe('def f():\n    return 1  # one\n');
    // Credited to the typist, as typed by it.
    const authors = authorsOf(renamer.files.get('app.py')!);
    expect(authors.slice(21, 28)).toEqual(Array(7).fill(2));
    expect(authors.filter((a) => a === 2)).toHaveLength(7);
  });

  it("lines the typing up with the renamer's own edits made before the rename", () => {
    const [renamer, typist] = pagesWith('hello world');
    typist.files.get('main.py')!.insert(6, 'big ');
    renamer.files.get('main.py')!.insert(0, '>> ');
    renamer.files.get('main.py')!.insert(14, '!');
    renamer.rename('main.py', 'app.py');
    renamer.sendTo(typist);
    expect(typist.text('app.py')).toBe('>> hello big world!');
    typist.sendTo(renamer);
    expect(renamer.text('app.py')).toBe('>> hello big world!');
  });

  it('after a time offline: typing kept, the deletions made meanwhile by the renamer before and after the rename kept too', () => {
    const [typist, renamer] = pagesWith('one two three');
    // The typist wrote the file; now it types offline while the renamer edits, renames and edits again.
    typist.files.get('main.py')!.insert(13, ' four');
    renamer.files.get('main.py')!.delete(4, 4); // "two " was the typist's, and the renamer had it
    renamer.rename('main.py', 'app.py');
    renamer.files.get('app.py')!.delete(0, 4); // "one "
    renamer.outbox.splice(0);
    // Back online: one answer holding everything the typist lacks, as a sync's.
    const answer = Y.encodeStateAsUpdate(renamer.doc, Y.encodeStateVector(typist.doc));
    Y.applyUpdate(typist.doc, answer, new FromServer(answer));
    expect(typist.text('app.py')).toBe('three four');
    typist.sendTo(renamer);
    expect(renamer.text('app.py')).toBe('three four');
  });

  it("each page puts back only its own typing: a third page's, which it had, is left to that page", () => {
    const [renamer, typist, third] = pagesWith('x');
    third.files.get('main.py')!.insert(1, 'C');
    const typedByThird = third.outbox.splice(0);
    for (const u of typedByThird) Y.applyUpdate(typist.doc, u, new FromServer(u)); // the typist has it, the renamer not yet
    typist.files.get('main.py')!.insert(2, 'B');
    renamer.rename('main.py', 'app.py');
    renamer.sendTo(typist, third);
    expect(typist.text('app.py')).toBe('xB');
    expect(third.text('app.py')).toBe('xC');
    for (const u of typedByThird) Y.applyUpdate(renamer.doc, u, new FromServer(u));
    typist.sendTo(renamer, third);
    third.sendTo(renamer, typist);
    const final = renamer.text('app.py');
    expect(final).toMatch(/^x(BC|CB)$/);
    expect(typist.text('app.py')).toBe(final);
    expect(third.text('app.py')).toBe(final);
  });

  it('puts back several runs, each where it was, and a run split only by a third page\'s characters as one', () => {
    const [renamer, typist, third] = pagesWith('aaaa\nbbbb\ncccc');
    const typed = typist.files.get('main.py')!;
    typed.insert(14, 'X');
    const typedX = typist.outbox.splice(0);
    for (const u of typedX) Y.applyUpdate(third.doc, u, new FromServer(u));
    third.files.get('main.py')!.insert(15, 'T');
    const typedT = third.outbox.splice(0);
    for (const u of typedT) Y.applyUpdate(typist.doc, u, new FromServer(u));
    typed.insert(16, 'Y');
    typed.insert(4, ' 1');
    typed.insert(11, ' 2');
    expect(typed.toString()).toBe('aaaa 1\nbbbb 2\nccccXTY');
    renamer.rename('main.py', 'app.py');
    renamer.sendTo(typist);
    expect(typist.text('app.py')).toBe('aaaa 1\nbbbb 2\nccccXY');
    for (const u of [...typedX, ...typedT]) Y.applyUpdate(renamer.doc, u, new FromServer(u));
    typist.sendTo(renamer);
    expect(renamer.text('app.py')).toBe('aaaa 1\nbbbb 2\nccccXY');
  });

  it('after a time offline, an answer holding two renames and an unrelated new file: each file gets its own typing back, the new one none', () => {
    const [typist, renamer] = pagesWith('def area(r):\n    return 3.14 * r * r\n');
    typist.files.set('util.py', new Y.Text('import math\n'));
    typist.sendTo(renamer);
    // Offline: typing in both files. Meanwhile both are renamed, and a third file deleted and an unrelated one added.
    typist.files.get('main.py')!.insert(36, '  # pi');
    typist.files.get('util.py')!.insert(11, ', sys');
    renamer.rename('main.py', 'shapes.py');
    renamer.rename('util.py', 'helpers.py');
    renamer.outbox.splice(0);
    const answer = Y.encodeStateAsUpdate(renamer.doc, Y.encodeStateVector(typist.doc));
    Y.applyUpdate(typist.doc, answer, new FromServer(answer));
    expect(typist.files.toJSON()).toEqual({ 'shapes.py': 'def area(r):\n    return 3.14 * r * r  # pi\n', 'helpers.py': 'import math, sys\n' });

    // A file deleted while the typist typed in it offline, and an unrelated one added: the typing goes with the file.
    typist.sendTo(renamer);
    typist.files.get('helpers.py')!.insert(0, '# tools\n');
    renamer.files.delete('helpers.py');
    renamer.files.set('query.sql', new Y.Text('SELECT name FROM users;'));
    renamer.outbox.splice(0);
    const second = Y.encodeStateAsUpdate(renamer.doc, Y.encodeStateVector(typist.doc));
    Y.applyUpdate(typist.doc, second, new FromServer(second));
    expect(typist.text('query.sql')).toBe('SELECT name FROM users;');
    expect(typist.files.has('helpers.py')).toBe(false);
  });

  it('after a time offline, a file replaced by a new one takes its typing with it, unless the new one is empty', () => {
    const [renamer, typist] = pagesWith('def f():\n    pass\n');
    typist.files.get('main.py')!.insert(0, '# offline\n');
    renamer.files.set('b.py', new Y.Text('SELECT 1;'));
    renamer.files.delete('main.py');
    renamer.outbox.splice(0);
    const answer = Y.encodeStateAsUpdate(renamer.doc, Y.encodeStateVector(typist.doc));
    Y.applyUpdate(typist.doc, answer, new FromServer(answer));
    expect(typist.files.toJSON()).toEqual({ 'b.py': 'SELECT 1;' });
    expect(typist.outbox).toHaveLength(1); // its own typing, made offline; nothing put back

    // An empty new file cannot be told from the copy of a file the renamer had
    // nothing of (typing it had not received): the typing goes there, kept.
    const [other, offline] = pagesWith('def g():\n    pass\n');
    offline.files.get('main.py')!.insert(0, '# offline\n');
    other.files.set('b.py', new Y.Text());
    other.files.delete('main.py');
    other.outbox.splice(0);
    const second = Y.encodeStateAsUpdate(other.doc, Y.encodeStateVector(offline.doc));
    Y.applyUpdate(offline.doc, second, new FromServer(second));
    expect(offline.files.toJSON()).toEqual({ 'b.py': '# offline\n' });
  });

  it('does nothing when the renamer had everything, when the rename is its own, or when a file is deleted', () => {
    const [renamer, typist] = pagesWith('abc');
    typist.files.get('main.py')!.insert(3, 'd');
    typist.sendTo(renamer);
    renamer.rename('main.py', 'app.py');
    renamer.sendTo(typist);
    expect(typist.outbox).toEqual([]);
    expect(typist.text('app.py')).toBe('abcd');

    // Its own rename, of a file with its own typing: nothing to put back.
    typist.files.set('b.py', new Y.Text('own'));
    typist.sendTo(renamer);
    typist.rename('b.py', 'c.py');
    expect(typist.outbox).toHaveLength(1);
    expect(typist.text('c.py')).toBe('own');
    typist.sendTo(renamer);

    // A file deleted while someone types in it is gone, typing and all: that is what deleting it means.
    typist.files.get('c.py')!.insert(3, '!');
    renamer.files.delete('c.py');
    renamer.sendTo(typist);
    expect(typist.outbox).toHaveLength(1); // only its own typing, not sent yet
    expect(typist.files.has('c.py')).toBe(false);
  });
});

/**
 * Three pages and a server's log in commit order. Each step a page types a
 * whole token at a token boundary, deletes whole tokens, commits its next
 * update, is delivered the next update logged, or catches up with all it
 * lacks in one update (merged, as an answer cut from stored bytes is); the
 * first page also renames the file, or replaces it with a new empty one (two
 * transactions, as the tabs do). Only the first page renames: two concurrent
 * renames of one file make two files, which is what renaming means. Every
 * token nobody deleted, and whose file was not replaced, must end up in the
 * file exactly once on every page, and the pages must converge.
 */
describe('renames among typing, delivered in any interleaving', () => {
  type Step = { kind: 'type' | 'delete' | 'rename' | 'replace' | 'commit' | 'deliver' | 'catchup'; page: number; at: number; count: number };
  const step: fc.Arbitrary<Step> = fc.record({
    kind: fc.constantFrom('type', 'type', 'type', 'delete', 'rename', 'rename', 'replace', 'commit', 'commit', 'commit', 'deliver', 'deliver', 'deliver', 'catchup'),
    page: fc.integer({ min: 0, max: 2 }),
    at: fc.nat(1000),
    count: fc.integer({ min: 1, max: 3 }),
  });
  const TOKEN = /<[0-9]+:[0-9]+>/g;

  it('keeps every token typed once, and the pages converge', () => {
    let rescues = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 10, maxLength: 80 }), (steps) => {
        const pages = [page(1), page(2), page(3)];
        pages[0]!.files.set('f0.py', new Y.Text(''));
        const log: Array<{ from: number; update: Uint8Array }> = [];
        const delivered = [0, 0, 0];
        const pending = pages.map(() => [] as Uint8Array[]);
        const touched = new Set<string>();
        /** Each token and the file it was typed into. */
        const typed: Array<{ token: string; file: string }> = [];
        const renamedTo = new Map<string, string>();
        const replaced = new Set<string>();
        let files = 0;
        // The first file by name: between a replace's two transactions a page has two.
        const fileOf = (p: number) => [...pages[p]!.files.keys()].sort()[0]!;
        const collect = (p: number) => pending[p]!.push(...pages[p]!.outbox.splice(0));
        const commit = (p: number) => {
          collect(p);
          const u = pending[p]!.shift();
          if (u) log.push({ from: p, update: u });
        };
        const applyFromServer = (p: number, update: Uint8Array) => {
          Y.applyUpdate(pages[p]!.doc, update, new FromServer(update));
          // A page makes edits of its own while an update applies only to put back typing.
          if (pages[p]!.outbox.length > 0) rescues++;
          collect(p);
        };
        const deliver = (p: number) => {
          while (delivered[p]! < log.length && log[delivered[p]!]!.from === p) delivered[p]!++;
          const entry = log[delivered[p]!];
          if (!entry) return;
          delivered[p]!++;
          applyFromServer(p, entry.update);
        };
        const catchUp = (p: number) => {
          const lacking = log.slice(delivered[p]!).map((e) => e.update);
          delivered[p] = log.length;
          if (lacking.length > 0) applyFromServer(p, Y.mergeUpdates(lacking));
        };
        collect(0);
        commit(0);
        deliver(1);
        deliver(2);
        for (const s of steps) {
          const key = fileOf(s.page);
          const text = pages[s.page]!.files.get(key)!;
          const tokens = [...text.toString().matchAll(TOKEN)];
          if (s.kind === 'type') {
            const boundary = s.at % (tokens.length + 1);
            const index = boundary === tokens.length ? text.length : tokens[boundary]!.index!;
            const token = `<${s.page}:${typed.length}>`;
            typed.push({ token, file: key });
            text.insert(index, token);
          } else if (s.kind === 'delete' && tokens.length > 0) {
            const first = s.at % tokens.length;
            const gone = tokens.slice(first, first + s.count);
            for (const t of gone) touched.add(t[0]);
            const end = gone[gone.length - 1]!;
            text.delete(gone[0]!.index!, end.index! + end[0].length - gone[0]!.index!);
          } else if (s.kind === 'rename' || s.kind === 'replace') {
            const from = fileOf(0);
            const to = `f${++files}.py`;
            if (s.kind === 'rename') {
              pages[0]!.rename(from, to);
              renamedTo.set(from, to);
            } else {
              pages[0]!.files.set(to, new Y.Text(''));
              pages[0]!.files.delete(from);
              replaced.add(from);
            }
            collect(0);
          } else if (s.kind === 'commit') commit(s.page);
          else if (s.kind === 'deliver') deliver(s.page);
          else if (s.kind === 'catchup') catchUp(s.page);
          collect(s.page);
        }
        // Everything committed and delivered, rescues included, until nothing moves.
        for (let round = 0; round < 20; round++) {
          for (let p = 0; p < 3; p++) while (pages[p]!.outbox.length > 0 || pending[p]!.length > 0) commit(p);
          for (let p = 0; p < 3; p++) while (delivered[p]! < log.length) deliver(p);
          if (pages.every((pg, p) => pg.outbox.length === 0 && pending[p]!.length === 0)) break;
        }
        const final = pages.map((pg) => JSON.stringify(pg.files.toJSON()));
        expect(final[1]).toBe(final[0]);
        expect(final[2]).toBe(final[0]);
        const keys = [...pages[0]!.files.keys()];
        expect(keys).toHaveLength(1);
        const content = pages[0]!.files.get(keys[0]!)!.toString();
        expect(content.replace(TOKEN, '')).toBe('');
        const counts = new Map<string, number>();
        for (const m of content.matchAll(TOKEN)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
        const endsReplaced = (file: string): boolean => {
          for (let f: string | undefined = file; f !== undefined; f = renamedTo.get(f)) if (replaced.has(f)) return true;
          return false;
        };
        for (const { token, file } of typed) {
          if (touched.has(token) || endsReplaced(file)) expect(counts.get(token) ?? 0, token).toBeLessThanOrEqual(1);
          else expect(counts.get(token), token).toBe(1);
        }
      }),
      { numRuns: runs(300) },
    );
    // Not vacuous: typing was missed by renames, and put back, in many cases.
    expect(rescues).toBeGreaterThan(runs(300) / 10);
  }, FUZZ_TIMEOUT);
});

describe('a rename that missed typing, through a node', () => {
  it('a candidate who typed while disconnected keeps that typing when the interviewer renamed the file meanwhile', async () => {
    const node = await startNode();
    const iv = await createInterview(node, 'Rename offline', 'python');
    const interviewer = await connectClient(node.url, iv.token);
    const candidate = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    for (const c of [interviewer, candidate]) keepOwnEditsAcrossRenames(c.files());
    const path = [...candidate.files().keys()][0]!;
    candidate.files().get(path)!.insert(0, 'print(1)');
    await waitFor(() => interviewer.text() === 'print(1)' && candidate.provider.pending === 0);

    candidate.socket.disconnect();
    candidate.files().get(path)!.insert(8, '\nprint(2)');
    const old = interviewer.files().get(path)!;
    interviewer.provider.doc('main').transact(() => {
      interviewer.files().set('app.py', new Y.Text(old.toString()));
      interviewer.files().delete(path);
    });
    await waitFor(() => interviewer.provider.pending === 0);
    candidate.socket.connect();

    const both = 'print(1)\nprint(2)';
    await waitFor(() => candidate.socket.connected && candidate.provider.pending === 0 && interviewer.text('app.py') === both, 10_000);
    expect(candidate.text('app.py')).toBe(both);
    expect([...candidate.files().keys()]).toEqual(['app.py']);
    const stored = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(stored.body.files).toEqual({ 'app.py': both });
  });
});
