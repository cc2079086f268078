/** Entry point: one page, three routes (the node answers all of them with index.html). */
import './styles.css';

const root = document.getElementById('app')!;
const path = location.pathname;
const room = /^\/room\/([^/]+)\/?$/.exec(path);
const replay = /^\/replay\/([^/]+)\/?$/.exec(path);

// Each route loads only its own code: the landing page does not pay for Monaco.
// One named function per route, not an if/else of imports: the minifier merged
// those into a single preload call that carried only the landing page's
// dependencies, so the room's CSS chunk (Monaco's styles) was never loaded.
async function openRoom(id: string) {
  (await import('./room-page.js')).startRoom(root, id);
}
async function openReplay(id: string) {
  (await import('./replay-page.js')).startReplay(root, id);
}
async function openLanding() {
  (await import('./landing-page.js')).startLanding(root);
}
if (room) void openRoom(decodeURIComponent(room[1]!));
else if (replay) void openReplay(decodeURIComponent(replay[1]!));
else void openLanding();

// A new invite pasted into this tab only changes the fragment: start over with it.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) location.reload();
});
