/** Which file a language change renames, and when (client/src/language-rename.ts), on real Yjs documents. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LanguageHistory, renameOnceThere } from '../client/src/language-rename.js';
import { renameFile } from '../shared/rename-rescue.js';

function room(...paths: string[]) {
  const doc = new Y.Doc();
  const files = doc.getMap<Y.Text>('files');
  for (const p of paths) files.set(p, new Y.Text(`code of ${p}`));
  const rename = (from: string, to: string) => renameFile(files, from, to);
  return { doc, files, rename };
}

describe('language change renames', () => {
  it('the language a change replaced is the newest copy seen before it, whatever the order copies came in', () => {
    const history = new LanguageHistory();
    history.record({ seq: 10, language: 'python' });
    // Someone else's later change came before this page's own answer.
    history.record({ seq: 30, language: 'go' });
    history.record({ seq: 20, language: 'javascript' });
    expect(history.before({ seq: 20 })).toBe('python');
    expect(history.before({ seq: 30 })).toBe('javascript');
    expect(history.before({ seq: 5 })).toBeUndefined();
    // A copy from a node that sends no seq says nothing.
    history.record({ language: 'rust' });
    expect(history.before({ seq: 31 })).toBe('go');
    expect(history.before({})).toBeUndefined();
  });

  it('renames at once when the file is there, and never onto a file already there', async () => {
    const { files, rename } = room('main.py');
    expect(await renameOnceThere(files, rename, 'main.py', 'main.js')).toBe(true);
    expect([...files.keys()]).toEqual(['main.js']);
    expect(files.get('main.js')!.toString()).toBe('code of main.py');
    const taken = room('main.py', 'main.js');
    expect(await renameOnceThere(taken.files, taken.rename, 'main.py', 'main.js')).toBe(false);
    expect([...taken.files.keys()].sort()).toEqual(['main.js', 'main.py']);
  });

  it("waits for the file an earlier change's rename brings, even back to a name still there until it arrives", async () => {
    // Go to JavaScript (another page's rename, not here yet), then JavaScript to Go (this page's).
    const here = room('main.go');
    const there = new Y.Doc();
    Y.applyUpdate(there, Y.encodeStateAsUpdate(here.doc));
    const waiting = renameOnceThere(here.files, here.rename, 'main.js', 'main.go', { waitMs: 2000 });
    await new Promise((r) => setTimeout(r, 50));
    expect([...here.files.keys()]).toEqual(['main.go']);
    expect(renameFile(there.getMap<Y.Text>('files'), 'main.go', 'main.js')).toBe(true);
    Y.applyUpdate(here.doc, Y.encodeStateAsUpdate(there, Y.encodeStateVector(here.doc)));
    expect(await waiting).toBe(true);
    expect([...here.files.keys()]).toEqual(['main.go']);
    expect(here.files.get('main.go')!.toString()).toBe('code of main.go');
  });

  it('gives up when the file never comes, or when the page leaves', async () => {
    const { files, rename } = room('notes.txt');
    expect(await renameOnceThere(files, rename, 'main.js', 'main.go', { waitMs: 100 })).toBe(false);
    files.set('main.js', new Y.Text('late'));
    await new Promise((r) => setTimeout(r, 20));
    expect(files.has('main.go')).toBe(false);
    const leaving = new AbortController();
    const waiting = renameOnceThere(files, rename, 'main.rs', 'main.go', { signal: leaving.signal });
    leaving.abort();
    expect(await waiting).toBe(false);
    files.set('main.rs', new Y.Text('later'));
    await new Promise((r) => setTimeout(r, 20));
    expect(files.has('main.go')).toBe(false);
  });
});
