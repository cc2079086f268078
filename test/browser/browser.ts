/**
 * Browser-test helpers: Debian's Chromium through playwright-core, pages that
 * record their console errors and every WebSocket frame they receive, and a
 * node restarted on the same port and data directory.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startNode, type TestNode } from '../helpers.js';
import { CLIENT_DIST, ensureClientBuilt } from '../../client/scripts/ensure-built.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { CHROMIUM, hasChromium } from '../fixtures/tools.js';

export { CHROMIUM, hasChromium };
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
export { CLIENT_DIST, ensureClientBuilt };

/**
 * Node options for browser tests: the built client, and a short shutdown
 * bound (a node's close() otherwise waits up to 8 s for Chromium's idle
 * keep-alive connections to time out).
 */
export const NODE_OPTIONS = { clientDir: CLIENT_DIST, shutdownTimeoutMs: 1500 };

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'duet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 720 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface RoomPage {
  page: Page;
  /** Every WebSocket frame the page received, text and binary (as latin1 so bytes survive). */
  frames: string[];
  /** Console errors and uncaught exceptions. */
  errors: string[];
  files(): Promise<Record<string, string>>;
  text(): Promise<string>;
  notes(): Promise<string | null>;
  pending(): Promise<number>;
  connected(): Promise<boolean>;
}

/** Opens a room page with an invite token and waits until its editor is bound and synced. */
/**
 * `clockSkewMs`: the page's clock (Date) runs that far off the node's, as on a
 * laptop whose time is wrong; the pages share one browser context, so this is
 * done per page rather than with Playwright's context-wide clock.
 * `beforeOpen`: set the page up before it loads (a WebSocket route, say).
 */
export async function openRoom(
  browser: Browser,
  url: string,
  interviewId: string,
  token: string,
  options: { clockSkewMs?: number; beforeOpen?: (page: Page) => Promise<void> } = {},
): Promise<RoomPage> {
  const page = await browser.context.newPage();
  await options.beforeOpen?.(page);
  if (options.clockSkewMs) {
    await page.addInitScript((skew: number) => {
      const g = globalThis as any;
      const RealDate = g.Date;
      // A function, as Date is: `Date()` without `new` gives the time as a string.
      function SkewedDate(this: unknown, ...args: unknown[]) {
        const date = args.length > 0 ? new RealDate(...args) : new RealDate(RealDate.now() + skew);
        return new.target ? date : date.toString();
      }
      SkewedDate.prototype = RealDate.prototype;
      Object.assign(SkewedDate, { now: () => RealDate.now() + skew, parse: RealDate.parse, UTC: RealDate.UTC });
      g.Date = SkewedDate;
    }, options.clockSkewMs);
  }
  const frames: string[] = [];
  const errors: string[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => frames.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1')));
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(`${url}/room/${interviewId}#token=${token}`);
  // Functions, not strings: the node's CSP forbids eval, and the tests run under it.
  await page.waitForFunction(() => {
    const g = globalThis as any;
    const d = g.duetDebug;
    return !!d && d.connected() && Object.keys(d.files()).length > 0 && !!g.document.querySelector('.editor-host .view-lines');
  });
  // Monaco's own stylesheet is loaded (a build once dropped it: the editor still
  // synced, with no line numbers and its input box showing).
  await page.waitForFunction(() => {
    const g = globalThis as any;
    const guard = g.document.querySelector('.editor-host .monaco-editor .overflow-guard');
    return !!guard && g.getComputedStyle(guard).overflow === 'hidden' && !!g.document.querySelector('.editor-host .line-numbers');
  });
  const debug = <T>(fn: string) => page.evaluate((name) => (globalThis as any).duetDebug[name]() as unknown, fn) as Promise<T>;
  const room: RoomPage = {
    page,
    frames,
    errors,
    files: () => debug<Record<string, string>>('files'),
    async text() {
      const files = await room.files();
      return files[Object.keys(files).sort()[0]!] ?? '';
    },
    notes: () => debug<string | null>('notes'),
    pending: () => debug<number>('pending'),
    connected: () => debug<boolean>('connected'),
  };
  return room;
}

/** Focuses the code editor of a page (the textarea Monaco listens on). */
export async function focusEditor(room: RoomPage): Promise<void> {
  await room.page.locator('.editor-pane .monaco-editor .view-lines').click();
  await room.page.keyboard.press('Control+End');
}

/** A real paste event on the focused element (Monaco handles it like Ctrl+V). */
export async function paste(room: RoomPage, text: string): Promise<void> {
  await room.page.evaluate((t) => {
    const g = globalThis as any;
    const data = new g.DataTransfer();
    data.setData('text/plain', t);
    g.document.activeElement.dispatchEvent(new g.ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
}

export async function screenshot(room: RoomPage, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await room.page.screenshot({ path: join(SCREENSHOTS, name) });
}

/**
 * One Chromium for a describe block: the client built and the browser launched
 * before its tests, closed after them. The handle is usable inside tests.
 */
export function useBrowser(): Browser {
  let launched: Browser | undefined;
  beforeAll(async () => {
    await ensureClientBuilt({ quiet: true });
    launched = await launchBrowser();
  }, 120_000);
  // A page a test leaves open goes on running (its clock, its reconnection attempts to a node
  // already stopped) through every later test of the file, on the same two cores.
  afterEach(async () => {
    const context = launched?.context;
    const first = context?.pages()[0];
    await Promise.all((context?.pages() ?? []).filter((page) => page !== first).map((page) => page.close()));
  });
  afterAll(async () => {
    await launched?.close();
  });
  return {
    get context() {
      if (!launched) throw new Error('the browser is launched in beforeAll');
      return launched.context;
    },
    close: async () => launched?.close(),
  };
}

/** A node on a given port and data directory: the same node coming back after a restart. */
export function startNodeAt(port: number, dataDir: string): Promise<TestNode> {
  return startNode({ dataDir }, { ...NODE_OPTIONS, port, keepOpen: true });
}
