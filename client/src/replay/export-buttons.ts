/**
 * Export: the whole interview as one JSON file, and the final files as a zip.
 * The token travels as a bearer header, never in a URL, so a download is a
 * fetch turned into a blob and saved through a temporary link.
 */
import { ApiError } from '../api-client.js';
import { h } from '../dom.js';
import { toast } from '../screens.js';

export function createExportButtons(token: string, interviewId: string): HTMLElement {
  const id = encodeURIComponent(interviewId);
  const json = button('Export JSON', 'replay-export-json', 'Every event with its time and author, the participants and the final files, in one JSON file');
  const zip = button('Files (.zip)', 'replay-export-zip', 'The final files of the interview in a zip');
  json.addEventListener('click', () => void download(json, `/api/interviews/${id}/export`, `duet-${interviewId}.json`));
  zip.addEventListener('click', () => void download(zip, `/api/interviews/${id}/files.zip`, `duet-${interviewId}.zip`));
  return h('div', { class: 'replay-exports', role: 'group', 'aria-label': 'Export' }, json, zip);

  async function download(b: HTMLButtonElement, path: string, fallbackName: string): Promise<void> {
    b.disabled = true;
    const label = b.textContent;
    b.textContent = 'Preparing…';
    try {
      const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) {
        const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
        throw new ApiError(res.status, body?.error?.code ?? 'internal', body?.error?.message ?? `HTTP ${res.status}`);
      }
      const blob = await res.blob();
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, class: 'offscreen' });
      document.body.append(a);
      a.click();
      a.remove();
      // The browser has taken the blob by now; give it a moment before letting go.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      toast(`Export failed: ${err instanceof ApiError ? err.message : 'the server cannot be reached'}`);
    } finally {
      b.disabled = false;
      b.textContent = label;
    }
  }
}

function button(text: string, testId: string, title: string): HTMLButtonElement {
  return h('button', { type: 'button', class: 'button small', 'data-testid': testId, title }, text);
}
