/**
 * Who may do what. The server enforces every rule here; the client only uses
 * them to hide controls a role cannot use.
 */
export const ROLES = ['interviewer', 'candidate', 'observer', 'reviewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Roles an invite can be minted for. */
export const INVITE_ROLES = ['interviewer', 'candidate', 'observer', 'reviewer'] as const;
export type InviteRole = (typeof INVITE_ROLES)[number];

export const DOC_NAMES = ['main', 'notes'] as const;
export type DocName = (typeof DOC_NAMES)[number];

export const CHAT_CHANNELS = ['room', 'panel'] as const;
export type ChatChannel = (typeof CHAT_CHANNELS)[number];

const LIVE_ROLES: ReadonlySet<Role> = new Set(['interviewer', 'candidate', 'observer']);
const PANEL_ROLES: ReadonlySet<Role> = new Set(['interviewer', 'observer', 'reviewer', 'admin']);

export const can = {
  /** Joining the live room over Socket.IO. Reviewers only replay. */
  joinLive: (role: Role) => LIVE_ROLES.has(role),
  /** Receiving a document at all: `notes` is never sent to a candidate. */
  readDoc: (role: Role, doc: DocName) => (doc === 'main' ? true : PANEL_ROLES.has(role)),
  writeDoc: (role: Role, doc: DocName) =>
    doc === 'main' ? role === 'interviewer' || role === 'candidate' : role === 'interviewer' || role === 'observer',
  readChat: (role: Role, channel: ChatChannel) => (channel === 'room' ? true : PANEL_ROLES.has(role)),
  sendChat: (role: Role, channel: ChatChannel) =>
    channel === 'room' ? role === 'interviewer' || role === 'candidate' : role === 'interviewer' || role === 'observer',
  changeLanguage: (role: Role) => role === 'interviewer' || role === 'candidate',
  /** Integrity signals are about the candidate, reported by the candidate's own client. */
  reportSignal: (role: Role) => role === 'candidate',
  /** Seeing them live: the panel, never the candidate. */
  seeSignals: (role: Role) => PANEL_ROLES.has(role),
  /** Deleting an interview and its whole record (also checked: an interviewer only its own). */
  deleteInterview: (role: Role) => role === 'interviewer' || role === 'admin',
  /** Starting a code run: interviewers always, candidates unless an interviewer turned it off. */
  startRun: (role: Role, candidateMayRun: boolean) => role === 'interviewer' || (role === 'candidate' && candidateMayRun),
  stopRun: (role: Role) => role === 'interviewer' || role === 'candidate',
  /** Allowing or forbidding candidate runs. */
  manageRuns: (role: Role) => role === 'interviewer',
  /** Creating interviews takes an unscoped token (checked separately). */
  createInterview: (role: Role) => role === 'interviewer' || role === 'admin',
  manageInterview: (role: Role) => role === 'interviewer' || role === 'admin',
  /** Reading the stored document and the event log (REST). */
  readRecord: (role: Role) => role === 'interviewer' || role === 'reviewer' || role === 'admin',
  readInterview: (role: Role) => role === 'interviewer' || role === 'reviewer' || role === 'admin',
} as const;
