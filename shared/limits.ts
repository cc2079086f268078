/**
 * Text arriving this large is worth a hiring panel's attention: a candidate's
 * page reports pastes from this size (a `paste` signal), and the replay marks
 * any single logged edit inserting this much, whatever the page reported (a
 * paste with no signal, edits made offline and sent together on reconnecting).
 */
export const LARGE_INSERTION_CHARS = 100;

/** The first file's text given when an interview is created (the question's template). */
const STARTER_CODE_CHARS = 32 * 1024;

/** Size limits shared by both sides; the server enforces them, the client avoids them. */
export const LIMITS = {
  /** One Yjs update (a paste of a large file fits; a whole repository does not). */
  updateBytes: 1024 * 1024,
  /** One awareness update: a cursor, a selection, a name and a colour. */
  awarenessBytes: 16 * 1024,
  /** Selections one cursor state carries (Monaco's multi-cursor); the page sends its first ones. */
  cursorSelections: 100,
  /** A state vector: a few bytes per client that ever edited. */
  stateVectorBytes: 64 * 1024,
  /** Characters across all files of one document. */
  docChars: 1_000_000,
  chatChars: 4000,
  titleChars: 200,
  starterCodeChars: STARTER_CODE_CHARS,
  nameChars: 100,
  /** Socket.IO packet limit: above the largest legal payload, so oversize gets a code, not a closed transport. */
  socketPacketBytes: 2 * 1024 * 1024,
  /** JSON REST bodies. */
  httpBodyBytes: 64 * 1024,
  /**
   * The body that creates an interview: its starter code, every character
   * escaped as JSON's six-byte \uXXXX at worst, fits, so the character limit
   * above is the one a client meets.
   */
  createInterviewBodyBytes: 6 * STARTER_CODE_CHARS + 4096,
  /** Chat messages sent in `session`. */
  sessionChatMessages: 500,
  eventsPageMax: 1000,
  /** A page of the interview list (`GET /api/interviews`), and its size when none is asked for. */
  interviewsPageMax: 1000,
  /**
   * A page of the log holds no more than this of events as stored (their
   * JSON data and update bytes), though its first event always comes: 1,000
   * runs, each with its output, would otherwise be one response of hundreds
   * of megabytes.
   */
  eventsPageBytes: 8 * 1024 * 1024,
  /** Integrity signals per person and interview (on each node): sustained per second, and burst (a tab flapping must not flood the log). */
  signalsPerSecond: 2,
  signalBurst: 30,
  signalPathChars: 200,
  /** Standard input of one code run. */
  runStdinChars: 64 * 1024,
  /** A run's output a page shows, and a joiner is sent: the runner's default limit (256 KiB) fits. */
  runOutputChars: 300_000,
  /**
   * The code kept with a run's event, all files together: interview code is far
   * smaller, and a candidate running a huge file over and over must not make
   * a page of the log (1,000 events) too large to send.
   */
  runCodeLoggedChars: 64 * 1024,
} as const;
