/** Entry point: one page, three routes (the node answers all of them with index.html). */
import './styles.css';

const root = document.getElementById('app')!;
const path = location.pathname;
const room = /^\/room\/([^/]+)\/?$/.exec(path);
const replay = /^\/replay\/([^/]+)\/?$/.exec(path);

// Each route loads only its own code: the landing page does not pay for Monaco.
if (room) {
  void import('./room-page.js').then((m) => m.startRoom(root, decodeURIComponent(room[1]!)));
} else if (replay) {
  void import('./replay-page.js').then((m) => m.startReplay(root, decodeURIComponent(replay[1]!)));
} else {
  void import('./landing-page.js').then((m) => m.startLanding(root));
}

// A new invite pasted into this tab only changes the fragment: start over with it.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) location.reload();
});
