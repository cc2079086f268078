/**
 * V8 optimises Yjs's update decoder and encoder only after they have run for
 * a while. On a fresh process the first long document (the 106 KB state of a
 * real 53-minute session) took 45-85 ms to apply and 15-37 ms to encode,
 * against 4 and 1 ms once warm, so the first joiners of a node that just
 * started (a deploy, a node replacing a dead one) paid for the compiler.
 * A new node therefore runs those paths on a made-up document in the
 * background, one short slice per turn of the event loop, so a join that
 * arrives meanwhile waits for at most one slice.
 */
import * as Y from 'yjs';

/** Keystrokes in the made-up document, typed by three authors. */
const KEYSTROKES = 10_000;
const PER_SLICE = 250;
/**
 * Decode and encode it this often. Measured on the 106 KB state of the real
 * session, first apply in a fresh process: 60-85 ms without a warm-up,
 * 22-27 ms after 3,000 keystrokes x 20 rounds, 11-22 ms after 10,000 x 10
 * (about 0.45 s of CPU in the background); a process that has applied it a
 * few times: 4 ms.
 */
const ROUNDS = 10;

export interface WarmUp {
  /** Resolves when the warm-up has finished or was stopped. */
  readonly done: Promise<void>;
  stop(): void;
}

export function warmUpYjs(): WarmUp {
  let stopped = false;
  let timer: NodeJS.Immediate | undefined;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const authors = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
  let typed = 0;
  let round = 0;
  let state: Uint8Array | undefined;
  /** Each slice's typing, as the update it made: a log's tail in miniature. */
  const runs: Uint8Array[] = [];

  const end = () => {
    for (const doc of authors) doc.destroy();
    // The returned object's closures share this scope with the documents:
    // let go of them, or the node keeps ~7 MB of made-up document for good.
    authors.length = 0;
    runs.length = 0;
    state = undefined;
    finish();
  };

  const slice = () => {
    timer = undefined;
    if (stopped) return end();
    if (typed < KEYSTROKES) {
      runs.push(typeSome(authors, typed, PER_SLICE));
      typed += PER_SLICE;
    } else {
      state ??= Y.encodeStateAsUpdate(authors[0]!);
      const fresh = new Y.Doc();
      Y.applyUpdate(fresh, state);
      Y.encodeStateAsUpdate(fresh, Y.encodeStateVector(authors[1]!));
      Y.encodeStateAsUpdate(fresh);
      fresh.destroy();
      // What a cold join's answer runs on a log's tail (Room.storedDoc), and
      // a reconnection's on the stored bytes (Room.storedDiff).
      Y.mergeUpdates(runs);
      for (const run of runs) Y.parseUpdateMeta(run);
      Y.diffUpdate(state, Y.encodeStateVector(authors[1]!));
      if (++round >= ROUNDS) return end();
    }
    timer = setImmediate(slice);
  };
  timer = setImmediate(slice);

  return {
    done,
    stop() {
      stopped = true;
      if (timer) {
        clearImmediate(timer);
        timer = undefined;
        end();
      }
    },
  };
}

/**
 * Each author types a run near the end of the text (keystrokes, backspaces,
 * now and then a paste), then the others receive it: interleaved items from
 * several clients, as in a real interview.
 */
function typeSome(authors: Y.Doc[], from: number, count: number): Uint8Array {
  const author = authors[Math.floor(from / PER_SLICE) % authors.length]!;
  const text = author.getText('warm-up');
  const before = Y.encodeStateVector(author);
  for (let k = from; k < from + count; k++) {
    const at = Math.max(0, text.length - (k % 7) * 3);
    if (k % 10 === 9 && at >= 2) text.delete(at - 2, 2);
    else text.insert(at, k % 40 === 0 ? 'const result = items.map((x) => x * 2);\n' : 'x');
  }
  const run = Y.encodeStateAsUpdate(author, before);
  for (const other of authors) if (other !== author) Y.applyUpdate(other, run);
  return run;
}
